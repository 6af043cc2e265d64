-- Parts revenue and margin by part category.
SELECT p.category, SUM(l.line_total) AS revenue, SUM(l.quantity * (l.unit_price - p.cost)) AS margin
FROM sales_order_parts l
JOIN auto_parts p ON p.sku = l.sku
GROUP BY p.category
ORDER BY revenue DESC, p.category;
