-- original-design.md, "Common Database Operations / View Database Status".
SELECT 'auto_parts' AS table_name, COUNT(*) AS count FROM auto_parts
UNION ALL SELECT 'customers', COUNT(*) FROM customers
UNION ALL SELECT 'service', COUNT(*) FROM service
UNION ALL SELECT 'service_parts', COUNT(*) FROM service_parts
ORDER BY table_name;
