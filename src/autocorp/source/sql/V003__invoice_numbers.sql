-- AutoCorp source schema, version 3: invoice numbers INV-YYYY-NNNNNN from one sequence,
-- so they stay unique across simulator runs and concurrent writers.

CREATE SEQUENCE invoice_number_seq AS bigint START 1;

-- Continue after any invoice number already present (e.g. orders loaded before this version).
SELECT setval('invoice_number_seq', max(substring(invoice_number FROM '[0-9]+$')::bigint))
FROM sales_order
HAVING max(substring(invoice_number FROM '[0-9]+$')::bigint) IS NOT NULL;

-- The next invoice number for an order placed now: year in UTC, at least six digits (never truncated).
CREATE FUNCTION next_invoice_number() RETURNS varchar(20)
LANGUAGE sql VOLATILE AS $$
    SELECT 'INV-' || to_char(now() AT TIME ZONE 'UTC', 'YYYY') || '-' || lpad(n::text, greatest(6, length(n::text)), '0')
    FROM (SELECT nextval('invoice_number_seq') AS n) AS s
$$;
