-- Revenue per day (UTC) and category: part lines by the part's category, service lines by the service's.
-- inputs: sales_order, sales_order_parts, sales_order_services, auto_parts, service
WITH lines AS (
    SELECT CAST(o.order_date AS DATE) AS day, 'parts' AS line_kind, ap.category,
           l.line_total AS revenue, l.quantity AS units, l.order_id
    FROM sales_order_parts l
    JOIN sales_order o ON o.order_id = l.order_id
    LEFT JOIN auto_parts ap ON ap.sku = l.sku
    UNION ALL
    SELECT CAST(o.order_date AS DATE), 'service', sv.category,
           l.line_total, 1, l.order_id
    FROM sales_order_services l
    JOIN sales_order o ON o.order_id = l.order_id
    LEFT JOIN service sv ON sv.serviceid = l.serviceid
)
SELECT day,
       line_kind,
       COALESCE(category, 'unknown') AS category,
       SUM(revenue)                  AS revenue,
       SUM(units)                    AS units,
       COUNT(*)                      AS lines,
       COUNT(DISTINCT order_id)      AS orders
FROM lines
GROUP BY ALL
ORDER BY day, line_kind, category
