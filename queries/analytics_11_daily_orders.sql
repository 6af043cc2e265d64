-- Orders and revenue per day over the last 30 days of data.
SELECT CAST(order_date AS DATE) AS day, COUNT(*) AS orders, SUM(total_amount) AS revenue
FROM sales_order
WHERE order_date >= (SELECT MAX(order_date) FROM sales_order) - INTERVAL '30' DAY
GROUP BY 1
ORDER BY 1;
