/**
 * The voucher key: what two voucher numbers must share to be the same voucher. An invoice is counted once
 * however its number was typed or pasted, so the key ignores what people do not see or do not mean:
 *
 * 1. invisible characters are removed: format characters (general category Cf: zero-width space and
 *    joiners, soft hyphen, bidi controls, BOM …) and the other default-ignorable ones (variation selectors,
 *    the combining grapheme joiner, Hangul fillers …);
 * 2. compatibility forms become their plain form (NFKD here, NFKC at the end): `ＩＮＶ－００１` is
 *    `INV-001`, `①` is `1`, and `e` + U+0301 is `é`. Marks are kept: `é` and `e` stay different;
 * 3. every whitespace character is removed, inside too (`INV 001` = `INV001`): spaces in a voucher number
 *    are grouping, never meaning (NBSP and the ideographic space are whitespace too);
 * 4. case is folded, the full folding (`ß` = `SS` = `ss`, `ς` = `σ`); then NFKC.
 *
 * Punctuation and letters that only look alike (`–` and `-`, Cyrillic `А` and Latin `A`) stay different.
 * Migration 0007 holds the same rule in SQL (`purchase_voucher_key(text)`), for the records stored before
 * it and for a writer that gives no key; test/integration/voucher-key-sql.test.ts compares the two.
 * (NFKD before the case mapping, not NFKC, is what makes them agree: PostgreSQL maps case one character at a
 * time, so `ᾳ` and `İ` fold alike only once decomposed.)
 */

const INVISIBLE = /[\p{Cf}\p{Default_Ignorable_Code_Point}]/gu
const WHITESPACE = /\p{White_Space}/gu

/** The key of a voucher number (see above). Idempotent: the key of a key is itself. */
export function voucherKey(voucher: string): string {
  const plain = voucher.replace(INVISIBLE, '').normalize('NFKD').replace(WHITESPACE, '')
  // Lower, upper, lower: the upper case expands `ß` to `SS`, and the first lower maps `ẞ` to `ß` first.
  // The final lower writes a word-final sigma as `ς`; the key always uses `σ`.
  return plain.toLowerCase().toUpperCase().toLowerCase().replaceAll('ς', 'σ').normalize('NFKC')
}

/**
 * Most characters in a key. NFKD can expand a character many times (U+FDFA is 18 characters), and the
 * unique index refuses entries over about 2 700 bytes; 200 characters are at most 800 bytes.
 */
export const MAX_VOUCHER_KEY = 200
