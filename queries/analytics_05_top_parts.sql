-- Best-selling parts by quantity.
SELECT l.sku, p.name, p.category, SUM(l.quantity) AS units, SUM(l.line_total) AS revenue
FROM sales_order_parts l
JOIN auto_parts p ON p.sku = l.sku
GROUP BY l.sku, p.name, p.category
ORDER BY units DESC, l.sku
LIMIT 10;
