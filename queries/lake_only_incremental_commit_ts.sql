-- lake-only: the design's `WHERE _hoodie_commit_time > '20250101000000'` on the lake's commit time column.
SELECT order_id, invoice_number, total_amount, _commit_ts, _lsn
FROM sales_order
WHERE _commit_ts > TIMESTAMP WITH TIME ZONE '2025-01-01 00:00:00+00'
ORDER BY order_id;
