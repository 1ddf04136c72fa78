CREATE TABLE "api_keys" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"name" text NOT NULL,
	"role" text NOT NULL,
	"org_id" uuid,
	"key_hash" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"revoked_at" timestamp with time zone,
	CONSTRAINT "api_keys_role_check" CHECK ("api_keys"."role" in ('admin','finance','reporter')),
	CONSTRAINT "api_keys_reporter_org_check" CHECK (("api_keys"."role" = 'reporter') = ("api_keys"."org_id" is not null))
);
--> statement-breakpoint
CREATE TABLE "audit_log" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"at" timestamp with time zone DEFAULT now() NOT NULL,
	"actor_key_id" uuid,
	"action" text NOT NULL,
	"entity" text NOT NULL,
	"entity_id" text NOT NULL,
	"before" jsonb,
	"after" jsonb
);
--> statement-breakpoint
CREATE TABLE "canteen_budgets" (
	"year" smallint NOT NULL,
	"org_id" uuid NOT NULL,
	"canteen_total_fen" bigint NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "canteen_budgets_year_org_id_pk" PRIMARY KEY("year","org_id"),
	CONSTRAINT "canteen_budgets_total_check" CHECK ("canteen_budgets"."canteen_total_fen" > 0)
);
--> statement-breakpoint
CREATE TABLE "idempotency_keys" (
	"api_key_id" uuid NOT NULL,
	"key" text NOT NULL,
	"fingerprint" text NOT NULL,
	"response_status" smallint,
	"response_body" jsonb,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "idempotency_keys_api_key_id_key_pk" PRIMARY KEY("api_key_id","key")
);
--> statement-breakpoint
CREATE TABLE "orgs" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"name" text NOT NULL,
	"kind" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "orgs_kind_check" CHECK ("orgs"."kind" in ('agency','public_institution','soe','trade_union','enterprise','market','street_town','aid_office','other')),
	CONSTRAINT "orgs_name_check" CHECK (length("orgs"."name") between 1 and 200)
);
--> statement-breakpoint
CREATE TABLE "purchase_totals" (
	"year" smallint NOT NULL,
	"month" smallint NOT NULL,
	"channel" text NOT NULL,
	"region_code" char(6) NOT NULL,
	"org_id" uuid NOT NULL,
	"shard" smallint NOT NULL,
	"total_fen" bigint NOT NULL,
	"count" integer NOT NULL,
	CONSTRAINT "purchase_totals_year_month_channel_region_code_org_id_shard_pk" PRIMARY KEY("year","month","channel","region_code","org_id","shard")
);
--> statement-breakpoint
CREATE TABLE "purchases" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"channel" text NOT NULL,
	"amount_fen" bigint NOT NULL,
	"occurred_on" date NOT NULL,
	"year" smallint NOT NULL,
	"org_id" uuid NOT NULL,
	"region_code" char(6) NOT NULL,
	"supplier" text NOT NULL,
	"supplier_credit_code" char(18),
	"product" text,
	"voucher_no" text,
	"external_ref" text,
	"note" text,
	"status" text DEFAULT 'active' NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"created_by" uuid NOT NULL,
	"voided_at" timestamp with time zone,
	"voided_by" uuid,
	"void_reason" text,
	CONSTRAINT "purchases_channel_check" CHECK ("purchases"."channel" in ('wholesale','union_welfare','enterprise','canteen','market_sales')),
	CONSTRAINT "purchases_amount_check" CHECK ("purchases"."amount_fen" > 0 and "purchases"."amount_fen" <= 999999999999),
	CONSTRAINT "purchases_year_check" CHECK ("purchases"."year" = extract(year from "purchases"."occurred_on")),
	CONSTRAINT "purchases_occurred_on_check" CHECK ("purchases"."occurred_on" >= date '2000-01-01'),
	CONSTRAINT "purchases_status_check" CHECK ("purchases"."status" in ('active','voided')),
	CONSTRAINT "purchases_void_check" CHECK (("purchases"."status" = 'voided') = ("purchases"."voided_at" is not null))
);
--> statement-breakpoint
CREATE TABLE "regions" (
	"code" char(6) PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"prefecture" text NOT NULL,
	"province" text NOT NULL,
	"program" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "regions_code_check" CHECK ("regions"."code" ~ '^[0-9]{6}$'),
	CONSTRAINT "regions_program_check" CHECK ("regions"."program" in ('east_west_cooperation','counterpart_support'))
);
--> statement-breakpoint
CREATE TABLE "targets" (
	"year" smallint NOT NULL,
	"channel" text NOT NULL,
	"kind" text NOT NULL,
	"scope" text NOT NULL,
	"amount_fen" bigint,
	"ratio_e4" integer,
	CONSTRAINT "targets_year_channel_pk" PRIMARY KEY("year","channel"),
	CONSTRAINT "targets_shape_check" CHECK (("targets"."kind" = 'amount' and "targets"."amount_fen" > 0 and "targets"."ratio_e4" is null and "targets"."scope" in ('district','per_region'))
       or ("targets"."kind" = 'share' and "targets"."ratio_e4" between 1 and 10000 and "targets"."amount_fen" is null and "targets"."scope" = 'per_unit'))
);
--> statement-breakpoint
ALTER TABLE "api_keys" ADD CONSTRAINT "api_keys_org_id_orgs_id_fk" FOREIGN KEY ("org_id") REFERENCES "public"."orgs"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "canteen_budgets" ADD CONSTRAINT "canteen_budgets_org_id_orgs_id_fk" FOREIGN KEY ("org_id") REFERENCES "public"."orgs"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "purchases" ADD CONSTRAINT "purchases_org_id_orgs_id_fk" FOREIGN KEY ("org_id") REFERENCES "public"."orgs"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "purchases" ADD CONSTRAINT "purchases_region_code_regions_code_fk" FOREIGN KEY ("region_code") REFERENCES "public"."regions"("code") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "purchases" ADD CONSTRAINT "purchases_created_by_api_keys_id_fk" FOREIGN KEY ("created_by") REFERENCES "public"."api_keys"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "purchases" ADD CONSTRAINT "purchases_voided_by_api_keys_id_fk" FOREIGN KEY ("voided_by") REFERENCES "public"."api_keys"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "api_keys_key_hash_key" ON "api_keys" USING btree ("key_hash");--> statement-breakpoint
CREATE INDEX "audit_log_entity_idx" ON "audit_log" USING btree ("entity","entity_id","id");--> statement-breakpoint
CREATE INDEX "audit_log_action_idx" ON "audit_log" USING btree ("action","id");--> statement-breakpoint
CREATE INDEX "audit_log_at_idx" ON "audit_log" USING btree ("at");--> statement-breakpoint
CREATE INDEX "idempotency_keys_created_idx" ON "idempotency_keys" USING btree ("created_at");--> statement-breakpoint
CREATE UNIQUE INDEX "orgs_name_key" ON "orgs" USING btree ("name");--> statement-breakpoint
CREATE UNIQUE INDEX "purchases_active_voucher_key" ON "purchases" USING btree ("voucher_no") WHERE "purchases"."status" = 'active' and "purchases"."voucher_no" is not null;--> statement-breakpoint
CREATE INDEX "purchases_list_idx" ON "purchases" USING btree ("year","occurred_on" DESC NULLS LAST,"id" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "purchases_org_list_idx" ON "purchases" USING btree ("org_id","occurred_on" DESC NULLS LAST,"id" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "purchases_external_ref_idx" ON "purchases" USING btree ("external_ref");