-- One row per sales order: who bought, where, what kind of order, and what it was made of.
-- inputs: sales_order, customers, sales_order_parts, sales_order_services
WITH parts AS (
    SELECT order_id, SUM(line_total) AS parts_amount, SUM(quantity) AS part_units, COUNT(*) AS part_lines
    FROM sales_order_parts
    GROUP BY order_id
), services AS (
    SELECT order_id, SUM(line_total) AS service_amount, SUM(labor_cost) AS labor_amount,
           SUM(parts_cost) AS service_parts_amount, SUM(labor_minutes) AS labor_minutes, COUNT(*) AS service_lines
    FROM sales_order_services
    GROUP BY order_id
)
SELECT o.order_id,
       o.invoice_number,
       o.order_date,
       CAST(o.order_date AS DATE)                 AS order_day,
       o.customer_id,
       c.state                                    AS customer_state,
       o.order_type,
       o.payment_method,
       COALESCE(p.parts_amount, 0)                AS parts_amount,
       COALESCE(s.service_amount, 0)              AS service_amount,
       COALESCE(s.labor_amount, 0)                AS labor_amount,
       COALESCE(s.service_parts_amount, 0)        AS service_parts_amount,
       COALESCE(p.part_units, 0)                  AS part_units,
       COALESCE(p.part_lines, 0)                  AS part_lines,
       COALESCE(s.service_lines, 0)               AS service_lines,
       COALESCE(s.labor_minutes, 0)               AS labor_minutes,
       o.total_amount
FROM sales_order o
LEFT JOIN customers c ON c.customer_id = o.customer_id
LEFT JOIN parts p ON p.order_id = o.order_id
LEFT JOIN services s ON s.order_id = o.order_id
ORDER BY o.order_id
