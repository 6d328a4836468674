"""`python -m bench.read_path`: the read path side by side, the hub against its peers (issue 13).

The hub (as `hub serve` runs it, real HTTP and real bearer tokens), a raw starlette + asyncpg
endpoint running hand-written SQL under the same row-level security (`bench/raw_endpoint.py`)
and, when node >= 22 and its npm install are found, PostGraphile 5 over the same tables
(`bench/postgraphile/`) serve the same four queries, each in a process of its own, in
interleaved rounds at 32 keep-alive connections from a load generator in a process of its own.

- `dataset`: one owner with 300,000 opportunities (10k and 1m variants), a SEGMENT partner and
  an ASSIGNED partner; seeded once into `.bench-data/read_path-<size>/` and reused.
- `systems`: start, stop and address the three servers; the requests each one is sent.
- `load`: the load generator (`python -m bench.read_path.load`, JSON in, JSON out).
- `measure`: one cell (system x query x connections) with its server, PostgreSQL and
  generator CPU and its statements from pg_stat_statements.
- `plans`: EXPLAIN (ANALYZE, BUFFERS) of every statement a traced request issues (auto_explain).
- `report`: `bench/results/read_path.md`.
"""
