-- original-design.md, "Query Data Lake with Athena": incremental query (changes since the last run).
-- Adapted: Hudi's _hoodie_commit_time is the source row's change time here (updated_at, set by trigger on
-- every update); on the lake `autocorp changes sales_order --since <time>` reads the change data feed and
-- lake_only_incremental_commit_ts.sql filters on the lake's own _commit_ts.
SELECT order_id, invoice_number, total_amount, updated_at
FROM sales_order
WHERE updated_at > TIMESTAMP WITH TIME ZONE '2025-01-01 00:00:00+00'
ORDER BY order_id;
