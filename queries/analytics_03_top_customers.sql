-- The ten customers with the highest lifetime revenue.
SELECT c.customer_id, c.first_name, c.last_name, c.state, COUNT(*) AS orders, SUM(o.total_amount) AS revenue
FROM sales_order o
JOIN customers c ON c.customer_id = o.customer_id
GROUP BY c.customer_id, c.first_name, c.last_name, c.state
ORDER BY revenue DESC, c.customer_id
LIMIT 10;
