-- Orders, revenue and average order value per order type.
SELECT order_type, COUNT(*) AS orders, SUM(total_amount) AS revenue, AVG(total_amount) AS avg_order
FROM sales_order
GROUP BY order_type
ORDER BY order_type;
