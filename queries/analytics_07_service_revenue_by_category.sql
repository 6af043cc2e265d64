-- Service revenue, labor and parts share by service category.
SELECT s.category, COUNT(*) AS jobs, SUM(l.labor_cost) AS labor, SUM(l.parts_cost) AS parts,
       SUM(l.line_total) AS revenue
FROM sales_order_services l
JOIN service s ON s.serviceid = l.serviceid
GROUP BY s.category
ORDER BY revenue DESC, s.category;
