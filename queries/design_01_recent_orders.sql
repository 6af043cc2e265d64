-- original-design.md, "Query Data Lake with Athena": orders of the last 7 days.
-- Adapted: the lake's views are named like the source tables ("autocorp_dev"."sales_order" also works
-- on the lake); ORDER BY added so answers compare row for row.
SELECT order_id, customer_id, total_amount, order_date
FROM sales_order
WHERE order_date >= CURRENT_DATE - INTERVAL '7' DAY
ORDER BY order_id;
