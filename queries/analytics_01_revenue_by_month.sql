-- Revenue and order count per month.
SELECT date_trunc('month', order_date) AS month, COUNT(*) AS orders, SUM(total_amount) AS revenue
FROM sales_order
GROUP BY 1
ORDER BY 1;
