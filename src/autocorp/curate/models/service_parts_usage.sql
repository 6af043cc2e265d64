-- Parts consumed by the services sold: each service line uses its service's bill of parts.
-- inputs: sales_order_services, service_parts, service, auto_parts
SELECT sp.serviceid,
       sv.service,
       sv.category                      AS service_category,
       sp.sku,
       ap.name                          AS part_name,
       ap.category                      AS part_category,
       COUNT(*)                         AS services_sold,
       SUM(sp.quantity)                 AS parts_used,
       SUM(sp.quantity * ap.unit_price) AS parts_value,
       MIN(l.created_at)                AS first_sold_at,
       MAX(l.created_at)                AS last_sold_at
FROM sales_order_services l
JOIN service_parts sp ON sp.serviceid = l.serviceid
LEFT JOIN service sv ON sv.serviceid = sp.serviceid
LEFT JOIN auto_parts ap ON ap.sku = sp.sku
GROUP BY ALL
ORDER BY sp.serviceid, sp.sku
