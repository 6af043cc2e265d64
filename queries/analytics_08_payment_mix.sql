-- Payment method mix: orders, revenue and share of revenue.
SELECT payment_method, COUNT(*) AS orders, SUM(total_amount) AS revenue,
       ROUND(SUM(total_amount) * 100.0 / (SELECT SUM(total_amount) FROM sales_order), 4) AS revenue_pct
FROM sales_order
GROUP BY payment_method
ORDER BY payment_method;
