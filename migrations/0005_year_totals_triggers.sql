-- Hand-written: the year rollups (purchase_year_totals, canteen_year_totals) are kept by the same trigger
-- function as purchase_totals, in the same statement as every write to purchases, and filled from
-- purchase_totals for the records already there. Writers wait for this migration (SHARE lock), so no write
-- slips between the backfill and the new trigger function.
LOCK TABLE purchases IN SHARE MODE;
--> statement-breakpoint
ALTER TABLE purchase_year_totals SET (fillfactor = 30);
--> statement-breakpoint
ALTER TABLE canteen_year_totals SET (fillfactor = 30);
--> statement-breakpoint
-- One shard per statement (random): concurrent single-record writes spread over 8 rows per key, and the rows
-- of one statement are upserted in key order, so two statements never wait on each other crosswise.
CREATE OR REPLACE FUNCTION purchase_totals_apply() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  s smallint := floor(random() * 8)::smallint;
BEGIN
  IF TG_OP = 'INSERT' THEN
    WITH d AS (
      SELECT year, extract(month FROM occurred_on)::smallint AS month, channel, region_code, org_id,
             sum(amount_fen) AS fen, count(*)::int AS n
        FROM new_rows WHERE status = 'active'
       GROUP BY 1, 2, 3, 4, 5
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
  ELSE
    WITH d AS (
      SELECT year, month, channel, region_code, org_id, sum(fen) AS fen, sum(n)::int AS n
        FROM (
          SELECT year, extract(month FROM occurred_on)::smallint AS month, channel, region_code, org_id,
                 amount_fen AS fen, 1 AS n
            FROM new_rows WHERE status = 'active'
          UNION ALL
          SELECT year, extract(month FROM occurred_on)::smallint, channel, region_code, org_id, -amount_fen, -1
            FROM old_rows WHERE status = 'active'
        ) x
       GROUP BY 1, 2, 3, 4, 5 HAVING sum(fen) <> 0 OR sum(n) <> 0
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
  END IF;
  RETURN NULL;
END $$;
--> statement-breakpoint
INSERT INTO purchase_year_totals (year, channel, region_code, shard, total_fen, count)
SELECT year, channel, region_code, 0, sum(total_fen), sum(count)::int FROM purchase_totals GROUP BY 1, 2, 3;
--> statement-breakpoint
INSERT INTO canteen_year_totals (year, org_id, shard, total_fen, count)
SELECT year, org_id, 0, sum(total_fen), sum(count)::int FROM purchase_totals WHERE channel = 'canteen' GROUP BY 1, 2;
