-- Vouchers compared as people mean them (issue 13): the unique index on active vouchers holds a key that
-- ignores invisible characters, width, whitespace and case, not the text as sent. The app computes the key
-- (src/modules/purchases/voucher-key.ts) and stores it with every record; this migration keys the records
-- stored before it with the same rule in SQL, and a trigger keys a row whose writer did not. See
-- docs/migrations.md (0007) for the rule, the near-duplicates already stored, and where JS and SQL differ.
ALTER TABLE "purchases" ADD COLUMN "voucher_key" text;--> statement-breakpoint
ALTER TABLE "purchases" ADD COLUMN "voucher_dup_rank" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
-- The key: default-ignorable and format characters removed, NFKD, whitespace removed, case folded (lower,
-- upper, lower: `ß` → `ss`; final sigma as `σ`), NFKC. The character classes are Unicode 17's
-- [\p{Cf}\p{Default_Ignorable_Code_Point}] and \p{White_Space}, as JavaScript's regular expressions read them.
CREATE FUNCTION purchase_voucher_key(voucher text) RETURNS text
  LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
  SELECT normalize(replace(replace(lower(upper(lower(
           regexp_replace(
             normalize(regexp_replace(voucher,
               '[\u00AD\u034F\u0600-\u0605\u061C\u06DD\u070F\u0890-\u0891\u08E2\u115F-\u1160\u17B4-\u17B5\u180B-\u180F\u200B-\u200F\u202A-\u202E\u2060-\u206F\u3164\uFE00-\uFE0F\uFEFF\uFFA0\uFFF0-\uFFFB\U000110BD\U000110CD\U00013430-\U0001343F\U0001BCA0-\U0001BCA3\U0001D173-\U0001D17A\U000E0000-\U000E0FFF]',
               '', 'g'), NFKD),
             '[\u0009-\u000D\u0020\u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]', '', 'g')))),
         'ß', 'ss'), 'ς', 'σ'), NFKC)
$$;--> statement-breakpoint
-- Every stored voucher gets its key. Active records whose keys now coincide (near-duplicates stored before
-- this migration) must not make it fail: the earliest (created_at, then id) keeps rank 0, the later ones
-- get rank 1, 2 … so the index below accepts them, and each gets an audit row (next statement) for finance
-- to find. Voided records keep rank 0: the index does not cover them.
UPDATE "purchases" p
   SET "voucher_key" = k.voucher_key,
       "voucher_dup_rank" = CASE WHEN p.status = 'active' THEN k.rank ELSE 0 END
  FROM (SELECT id, voucher_key,
               row_number() OVER (PARTITION BY voucher_key, status = 'active' ORDER BY created_at, id) - 1 AS rank
          FROM (SELECT id, status, created_at, purchase_voucher_key(voucher_no) AS voucher_key
                  FROM purchases WHERE voucher_no IS NOT NULL) keyed) k
 WHERE p.id = k.id;--> statement-breakpoint
INSERT INTO "audit_log" (actor_key_id, action, entity, entity_id, before, after)
SELECT NULL, 'purchase.voucher_near_duplicate', 'purchase', d.id::text, NULL,
       jsonb_build_object('voucher_no', d.voucher_no, 'voucher_key', d.voucher_key, 'rank', d.voucher_dup_rank,
                          'same_voucher_as', first.id, 'same_voucher_as_voucher_no', first.voucher_no)
  FROM purchases d
  JOIN purchases first ON first.voucher_key = d.voucher_key AND first.status = 'active' AND first.voucher_dup_rank = 0
 WHERE d.status = 'active' AND d.voucher_dup_rank > 0
 ORDER BY d.voucher_key, d.voucher_dup_rank;--> statement-breakpoint
DROP INDEX "purchases_active_voucher_key";--> statement-breakpoint
CREATE UNIQUE INDEX "purchases_active_voucher_key" ON "purchases" USING btree ("voucher_key","voucher_dup_rank") WHERE "purchases"."status" = 'active' and "purchases"."voucher_key" is not null;--> statement-breakpoint
ALTER TABLE "purchases" ADD CONSTRAINT "purchases_voucher_key_check" CHECK (("purchases"."voucher_no" is null) = ("purchases"."voucher_key" is null));--> statement-breakpoint
ALTER TABLE "purchases" ADD CONSTRAINT "purchases_voucher_dup_rank_check" CHECK ("purchases"."voucher_dup_rank" >= 0);--> statement-breakpoint
-- A writer that gives a voucher without its key (an instance of the previous version during a rolling
-- deploy, a manual INSERT or UPDATE) gets the SQL key, so the unique index still holds for it.
CREATE FUNCTION purchase_voucher_key_fill() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.voucher_key := purchase_voucher_key(NEW.voucher_no);
  RETURN NEW;
END $$;--> statement-breakpoint
CREATE TRIGGER purchases_voucher_key_insert BEFORE INSERT ON purchases FOR EACH ROW
  WHEN (NEW.voucher_key IS NULL AND NEW.voucher_no IS NOT NULL) EXECUTE FUNCTION purchase_voucher_key_fill();--> statement-breakpoint
CREATE TRIGGER purchases_voucher_key_update BEFORE UPDATE OF voucher_no ON purchases FOR EACH ROW
  WHEN (NEW.voucher_no IS DISTINCT FROM OLD.voucher_no AND NEW.voucher_key IS NOT DISTINCT FROM OLD.voucher_key)
  EXECUTE FUNCTION purchase_voucher_key_fill();
