-- original-design.md, "Query Example: Get Service with Parts". ORDER BY added for a stable answer.
SELECT
    s.service,
    s.category,
    s.labor_cost,
    sp.sku,
    sp.quantity
FROM service s
JOIN service_parts sp ON s.serviceid = sp.serviceid
WHERE s.serviceid = '48392017'
ORDER BY sp.sku;
