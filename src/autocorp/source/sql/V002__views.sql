-- AutoCorp source schema, version 2: the views the design's queries use.

CREATE VIEW service_with_parts AS
SELECT s.serviceid, s.service, s.category, s.labor_minutes, s.labor_cost,
       sp.sku, p.name AS part_name, sp.quantity, p.unit_price,
       sp.quantity * p.unit_price AS parts_cost
FROM service s
JOIN service_parts sp ON sp.serviceid = s.serviceid
JOIN auto_parts p ON p.sku = sp.sku;

CREATE VIEW service_parts_cost AS
SELECT s.serviceid, s.service, s.category, s.labor_minutes, s.labor_cost,
       COALESCE(SUM(sp.quantity * p.unit_price), 0)::numeric(10,2) AS parts_cost,
       COUNT(sp.sku) AS part_count
FROM service s
LEFT JOIN service_parts sp ON sp.serviceid = s.serviceid
LEFT JOIN auto_parts p ON p.sku = sp.sku
GROUP BY s.serviceid, s.service, s.category, s.labor_minutes, s.labor_cost;

CREATE VIEW order_summary AS
SELECT o.order_id, o.invoice_number, o.order_date, o.order_type, o.payment_method,
       o.customer_id, c.first_name, c.last_name, c.state,
       COALESCE(p.parts_total, 0) AS parts_total,
       COALESCE(s.services_total, 0) AS services_total,
       o.total_amount
FROM sales_order o
JOIN customers c ON c.customer_id = o.customer_id
LEFT JOIN (SELECT order_id, SUM(line_total) AS parts_total FROM sales_order_parts GROUP BY order_id) p
       ON p.order_id = o.order_id
LEFT JOIN (SELECT order_id, SUM(line_total) AS services_total FROM sales_order_services GROUP BY order_id) s
       ON s.order_id = o.order_id;

CREATE VIEW order_totals_by_type AS
SELECT order_type, COUNT(*) AS orders, SUM(total_amount) AS revenue, AVG(total_amount) AS avg_order
FROM sales_order
GROUP BY order_type;
