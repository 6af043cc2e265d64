-- Parts most often required by services sold (service_parts x services sold).
SELECT sp.sku, COUNT(*) AS service_jobs, SUM(sp.quantity) AS parts_needed
FROM sales_order_services l
JOIN service_parts sp ON sp.serviceid = l.serviceid
GROUP BY sp.sku
ORDER BY parts_needed DESC, sp.sku
LIMIT 10;
