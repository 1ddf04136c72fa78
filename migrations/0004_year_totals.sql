CREATE TABLE "canteen_year_totals" (
	"year" smallint NOT NULL,
	"org_id" uuid NOT NULL,
	"shard" smallint NOT NULL,
	"total_fen" bigint NOT NULL,
	"count" integer NOT NULL,
	CONSTRAINT "canteen_year_totals_year_org_id_shard_pk" PRIMARY KEY("year","org_id","shard")
);
--> statement-breakpoint
CREATE TABLE "purchase_year_totals" (
	"year" smallint NOT NULL,
	"channel" text NOT NULL,
	"region_code" char(6) NOT NULL,
	"shard" smallint NOT NULL,
	"total_fen" bigint NOT NULL,
	"count" integer NOT NULL,
	CONSTRAINT "purchase_year_totals_year_channel_region_code_shard_pk" PRIMARY KEY("year","channel","region_code","shard")
);
