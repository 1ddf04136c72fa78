-- Hand-written: database-level invariants drizzle-kit cannot express, and the seed data.

-- Purchases are corrected by voiding, never deleted.
CREATE FUNCTION reject_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '% on % is not allowed', TG_OP, TG_TABLE_NAME USING ERRCODE = 'restrict_violation';
END $$;
--> statement-breakpoint
CREATE TRIGGER purchases_no_delete BEFORE DELETE ON purchases FOR EACH ROW EXECUTE FUNCTION reject_change();
--> statement-breakpoint
CREATE TRIGGER purchases_no_truncate BEFORE TRUNCATE ON purchases FOR EACH STATEMENT EXECUTE FUNCTION reject_change();
--> statement-breakpoint
-- The audit log is append-only.
CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log FOR EACH ROW EXECUTE FUNCTION reject_change();
--> statement-breakpoint
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log FOR EACH STATEMENT EXECUTE FUNCTION reject_change();
--> statement-breakpoint
-- purchase_totals = sum of active purchases, kept in the same statement as every write to purchases,
-- whatever code path (API, import, COPY) wrote it. One upsert per statement, rows in key order.
CREATE FUNCTION purchase_totals_apply() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO purchase_totals AS t (year, month, channel, region_code, org_id, shard, total_fen, count)
    SELECT year, extract(month FROM occurred_on)::smallint, channel, region_code, org_id,
           floor(random() * 8)::smallint, sum(amount_fen), count(*)::int
      FROM new_rows WHERE status = 'active'
     GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5
    ON CONFLICT (year, month, channel, region_code, org_id, shard)
    DO UPDATE SET total_fen = t.total_fen + excluded.total_fen, count = t.count + excluded.count;
  ELSE
    INSERT INTO purchase_totals AS t (year, month, channel, region_code, org_id, shard, total_fen, count)
    SELECT year, month, channel, region_code, org_id, floor(random() * 8)::smallint, sum(fen), sum(n)::int
      FROM (
        SELECT year, extract(month FROM occurred_on)::smallint AS month, channel, region_code, org_id,
               amount_fen AS fen, 1 AS n
          FROM new_rows WHERE status = 'active'
        UNION ALL
        SELECT year, extract(month FROM occurred_on)::smallint, channel, region_code, org_id,
               -amount_fen, -1
          FROM old_rows WHERE status = 'active'
      ) d
     GROUP BY 1, 2, 3, 4, 5 HAVING sum(fen) <> 0 OR sum(n) <> 0 ORDER BY 1, 2, 3, 4, 5
    ON CONFLICT (year, month, channel, region_code, org_id, shard)
    DO UPDATE SET total_fen = t.total_fen + excluded.total_fen, count = t.count + excluded.count;
  END IF;
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE TRIGGER purchases_totals_insert AFTER INSERT ON purchases
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION purchase_totals_apply();
--> statement-breakpoint
CREATE TRIGGER purchases_totals_update AFTER UPDATE ON purchases
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION purchase_totals_apply();
--> statement-breakpoint
INSERT INTO regions (code, name, prefecture, province, program) VALUES
  ('530502', '隆阳区', '保山市', '云南省', 'east_west_cooperation'),
  ('530521', '施甸县', '保山市', '云南省', 'east_west_cooperation'),
  ('530523', '龙陵县', '保山市', '云南省', 'east_west_cooperation'),
  ('530524', '昌宁县', '保山市', '云南省', 'east_west_cooperation'),
  ('530623', '盐津县', '昭通市', '云南省', 'east_west_cooperation'),
  ('530626', '绥江县', '昭通市', '云南省', 'east_west_cooperation'),
  ('653124', '泽普县', '喀什地区', '新疆维吾尔自治区', 'counterpart_support')
ON CONFLICT (code) DO NOTHING;
--> statement-breakpoint
INSERT INTO targets (year, channel, kind, scope, amount_fen, ratio_e4) VALUES
  (2024, 'wholesale', 'amount', 'district', 5000000000, NULL),
  (2024, 'union_welfare', 'amount', 'district', 1000000000, NULL),
  (2024, 'enterprise', 'amount', 'district', 4000000000, NULL),
  (2024, 'canteen', 'share', 'per_unit', NULL, 1000),
  (2024, 'market_sales', 'amount', 'per_region', 1000000000, NULL)
ON CONFLICT (year, channel) DO NOTHING;
