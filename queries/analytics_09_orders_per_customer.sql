-- How many customers placed 1, 2, 3 ... orders.
SELECT orders_placed, COUNT(*) AS customers
FROM (SELECT customer_id, COUNT(*) AS orders_placed FROM sales_order GROUP BY customer_id) t
GROUP BY orders_placed
ORDER BY orders_placed;
