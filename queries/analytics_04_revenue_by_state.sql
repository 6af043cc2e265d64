-- Revenue by customer state.
SELECT c.state, COUNT(DISTINCT o.customer_id) AS customers, COUNT(*) AS orders, SUM(o.total_amount) AS revenue
FROM sales_order o
JOIN customers c ON c.customer_id = o.customer_id
GROUP BY c.state
ORDER BY revenue DESC, c.state;
