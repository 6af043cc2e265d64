-- original-design.md, "Create a Sample Order": the INSERTs run on the source; the lake is read-only, so
-- this reads the sample order (INV-2025-001) and its service line back.
SELECT o.invoice_number, o.payment_method, o.total_amount, o.order_type,
       l.serviceid, l.labor_minutes, l.labor_cost, l.parts_cost, l.line_total
FROM sales_order o
JOIN sales_order_services l ON l.order_id = o.order_id
WHERE o.invoice_number = 'INV-2025-001'
ORDER BY l.line_id;
