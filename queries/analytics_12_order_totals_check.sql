-- Orders whose header total disagrees with the sum of their lines (should be none).
SELECT o.order_id, o.total_amount, COALESCE(p.parts, 0) + COALESCE(s.services, 0) AS lines_total
FROM sales_order o
LEFT JOIN (SELECT order_id, SUM(line_total) AS parts FROM sales_order_parts GROUP BY order_id) p
       ON p.order_id = o.order_id
LEFT JOIN (SELECT order_id, SUM(line_total) AS services FROM sales_order_services GROUP BY order_id) s
       ON s.order_id = o.order_id
WHERE o.total_amount <> COALESCE(p.parts, 0) + COALESCE(s.services, 0)
ORDER BY o.order_id;
