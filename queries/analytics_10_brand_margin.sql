-- Gross margin on parts sold, by brand.
SELECT p.brand, SUM(l.quantity) AS units, SUM(l.line_total) AS revenue,
       SUM(l.line_total - l.quantity * p.cost) AS gross_margin
FROM sales_order_parts l
JOIN auto_parts p ON p.sku = l.sku
GROUP BY p.brand
ORDER BY gross_margin DESC, p.brand;
