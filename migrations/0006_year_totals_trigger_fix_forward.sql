-- Hand-written, fix forward: 0005 was edited after it had landed (commit ab22bc6 gave the rollup trigger one
-- upsert block for inserts and updates, the statement's change as a purchase_totals_delta array). A database
-- that had applied the first 0005 kept the first trigger function, because the migrator never runs a
-- migration twice. 0005 is back to its first content, and this migration brings every database, whichever
-- 0005 it applied, to the same type and trigger function. Landed migrations never change: see
-- docs/migrations.md.
--
-- A statement's change to the sums of one (year, month, channel, county, org). Created only where the first
-- 0005 left it out (the edited 0005 created it).
DO $$
BEGIN
  IF to_regtype('purchase_totals_delta') IS NULL THEN
    CREATE TYPE purchase_totals_delta AS (
      year smallint, month smallint, channel text, region_code char(6), org_id uuid, fen numeric, n int
    );
  END IF;
END $$;
--> statement-breakpoint
-- The statement's change (inserted active rows, or updated rows: new active minus old active), then the three
-- rollups in one statement. One shard per statement (random): concurrent single-record writes spread over 8
-- rows per key, and the rows of one statement are upserted in key order, so two statements never wait on
-- each other crosswise.
CREATE OR REPLACE FUNCTION purchase_totals_apply() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  s smallint := floor(random() * 8)::smallint;
  delta purchase_totals_delta[];
BEGIN
  IF TG_OP = 'INSERT' THEN
    SELECT array_agg(row(year, month, channel, region_code, org_id, fen, n)::purchase_totals_delta) INTO delta
      FROM (SELECT year, extract(month FROM occurred_on)::smallint AS month, channel, region_code, org_id,
                   sum(amount_fen) AS fen, count(*)::int AS n
              FROM new_rows WHERE status = 'active'
             GROUP BY 1, 2, 3, 4, 5) d;
  ELSE
    SELECT array_agg(row(year, month, channel, region_code, org_id, fen, n)::purchase_totals_delta) INTO delta
      FROM (SELECT year, month, channel, region_code, org_id, sum(fen) AS fen, sum(n)::int AS n
              FROM (SELECT year, extract(month FROM occurred_on)::smallint AS month, channel, region_code, org_id,
                           amount_fen AS fen, 1 AS n
                      FROM new_rows WHERE status = 'active'
                    UNION ALL
                    SELECT year, extract(month FROM occurred_on)::smallint, channel, region_code, org_id,
                           -amount_fen, -1
                      FROM old_rows WHERE status = 'active') x
             GROUP BY 1, 2, 3, 4, 5 HAVING sum(fen) <> 0 OR sum(n) <> 0) d;
  END IF;
  IF delta IS NULL THEN
    RETURN NULL;
  END IF;
  WITH d AS (
    SELECT * FROM unnest(delta)
  ), by_month AS (
    INSERT INTO purchase_totals AS t (year, month, channel, region_code, org_id, shard, total_fen, count)
    SELECT year, month, channel, region_code, org_id, s, fen, n FROM d ORDER BY 1, 2, 3, 4, 5
    ON CONFLICT (year, month, channel, region_code, org_id, shard)
    DO UPDATE SET total_fen = t.total_fen + excluded.total_fen, count = t.count + excluded.count
  ), by_year AS (
    INSERT INTO purchase_year_totals AS t (year, channel, region_code, shard, total_fen, count)
    SELECT year, channel, region_code, s, sum(fen), sum(n)::int FROM d GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
    ON CONFLICT (year, channel, region_code, shard)
    DO UPDATE SET total_fen = t.total_fen + excluded.total_fen, count = t.count + excluded.count
  )
  INSERT INTO canteen_year_totals AS t (year, org_id, shard, total_fen, count)
  SELECT year, org_id, s, sum(fen), sum(n)::int FROM d WHERE channel = 'canteen' GROUP BY 1, 2 ORDER BY 1, 2
  ON CONFLICT (year, org_id, shard)
  DO UPDATE SET total_fen = t.total_fen + excluded.total_fen, count = t.count + excluded.count;
  RETURN NULL;
END $$;
