-- Hand-written: the API representation of a purchase record, used for responses and for audit rows,
-- so the JSON a client sees and the audit's before/after are the same thing by construction.
-- Money: integer fen formatted as yuan with exactly two fraction digits; timestamps in UTC, RFC 3339.
CREATE FUNCTION purchase_json(p purchases) RETURNS jsonb LANGUAGE sql STABLE AS $$
  SELECT jsonb_build_object(
    'id', p.id,
    'channel', p.channel,
    'amount', (p.amount_fen / 100)::text || '.' || lpad((p.amount_fen % 100)::text, 2, '0'),
    'occurred_on', p.occurred_on::text,
    'org_id', p.org_id,
    'region_code', p.region_code,
    'supplier', p.supplier,
    'supplier_credit_code', p.supplier_credit_code,
    'product', p.product,
    'voucher_no', p.voucher_no,
    'external_ref', p.external_ref,
    'note', p.note,
    'year', p.year,
    'status', p.status,
    'created_at', to_char(p.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
    'created_by', p.created_by,
    'voided_at', to_char(p.voided_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
    'void_reason', p.void_reason)
$$;
