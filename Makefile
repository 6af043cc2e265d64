# Two commands matter: `make demo` (whole pipeline) and `make test` (the suite).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
AC     := $(BIN)/autocorp

.PHONY: setup demo test lint bench clean jdbc-driver

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

demo: setup
	@echo "== 1. the source system: embedded PostgreSQL 18, schema, seed data, some orders"
	$(AC) db start
	$(AC) db init
	$(AC) source generate --out data
	$(AC) source load --data data
	$(AC) source simulate --orders 2000
	$(AC) db stats
	@echo "== 2. capture: exported-snapshot full load + change stream into the raw zone"
	$(AC) capture --until-caught-up
	$(AC) capture status
	@find .autocorp/dev/lake/raw -name '*.parquet' | sort | sed 's|^.autocorp/dev/lake/||' | head -12
	@echo "== 3. autocorp run (capture + curate) for 25 s while the simulator writes 1,000 row changes/s;"
	@echo "==    at 12 s the real-time view (Delta + unmerged changes) vs the merged Delta table alone:"
	@$(AC) source simulate --rate 1000 --duration 20 > /dev/null 2>&1 & \
	  $(AC) run --duration 25 2> /dev/null & \
	  sleep 12; $(AC) query "SELECT (SELECT count(*) FROM sales_order) AS realtime_orders, \
	    (SELECT count(*) FROM sales_order_ro) AS merged_orders, \
	    (SELECT max(order_date) FROM sales_order) AS newest_order"; wait
	$(AC) reconcile
	@echo "== 4. analytics on the lake"
	$(AC) query -f queries/analytics_02_revenue_by_order_type.sql
	$(AC) query -f queries/analytics_07_service_revenue_by_category.sql
	$(AC) query "SELECT state, orders, revenue FROM (SELECT c.state, count(*) AS orders, \
	    sum(o.total_amount) AS revenue FROM sales_order o JOIN customers c USING (customer_id) \
	    GROUP BY c.state) ORDER BY revenue DESC LIMIT 5"
	@echo "== 5. time travel: the lake 15 s ago, every table at one source transaction (SQL table functions)"
	@T=$$(date -u -d '-15 seconds' +%FT%T); $(AC) query "SELECT '$$T' AS as_of_utc, \
	    (SELECT count(*) FROM sales_order_as_of('$$T')) AS orders_then, \
	    (SELECT count(*) FROM sales_order_parts_as_of('$$T')) AS part_lines_then, \
	    (SELECT count(*) FROM sales_order) AS orders_now"
	$(AC) status

# PostgreSQL's JDBC driver (Debian package) for the test that connects to `autocorp serve` as DBeaver/Tableau do;
# without root or apt that one test is skipped, saying why
JDBC_JAR := /usr/share/java/postgresql.jar
jdbc-driver:
	@if [ ! -e $(JDBC_JAR) ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  timeout 300 apt-get install -y -q libpostgresql-jdbc-java >/dev/null 2>&1 || \
	  { timeout 300 apt-get update -q >/dev/null 2>&1 && timeout 300 apt-get install -y -q libpostgresql-jdbc-java >/dev/null 2>&1; } || \
	  echo "warning: could not install libpostgresql-jdbc-java; the JDBC test will be skipped"; fi

test: setup jdbc-driver
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy src
	$(BIN)/pytest -q tests

lint: setup
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy src

bench: setup
	$(BIN)/python bench/generate.py

clean:
	-$(BIN)/autocorp db stop
	rm -rf $(VENV) .autocorp data
