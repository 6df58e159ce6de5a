// check.mjs - read a Parquet file with two independent readers (DuckDB and
// hyparquet) and print what they read in one canonical text form.
//
//   node check.mjs FILE.parquet            the dump, when both readers agree;
//                                          else both dumps and exit 1
//   node check.mjs --reader duckdb FILE    one reader's dump (or hyparquet)
//   node check.mjs --meta FILE             per column chunk: codec, encodings,
//                                          page kinds, statistics (hyparquet)
//
// The dump:
//   columns: NAME:TYPE, ...        TYPE: int64 double boolean string
//                                  timestamp (UTC, microseconds) date ...
//   rows: N
//   [v, v, ...]                    one line per row: null; integers in
//                                  decimal; doubles as JavaScript prints them
//                                  (-0, NaN, Infinity included); booleans;
//                                  strings as JSON strings; timestamps as
//                                  "YYYY-MM-DDTHH:MM:SS.ffffffZ"; dates as
//                                  "YYYY-MM-DD"
//
// Strings must be valid UTF-8: hyparquet decodes them strictly here, and
// DuckDB checks them itself.
import { createRequire } from 'node:module'
import { parquetMetadataAsync, parquetRead, asyncBufferFromFile } from 'hyparquet'
import { compressors } from 'hyparquet-compressors'

const require = createRequire(import.meta.url)
const utf8 = new TextDecoder('utf-8', { fatal: true })

// ---- canonical values ----

const floorDiv = (a, b) => { const q = a / b; return (a % b !== 0n && (a < 0n) !== (b < 0n)) ? q - 1n : q }

function fmtTimestamp (micros) {
  micros = BigInt(micros)
  const secs = floorDiv(micros, 1000000n)
  const frac = micros - secs * 1000000n
  const iso = new Date(Number(secs) * 1000).toISOString() // ...:SS.000Z
  return iso.slice(0, iso.length - 5) + '.' + String(frac).padStart(6, '0') + 'Z'
}

function fmtDate (days) {
  return new Date(Number(days) * 86400000).toISOString().slice(0, 10)
}

function fmtValue (type, v) {
  if (v === null || v === undefined) return 'null'
  switch (type) {
    case 'int64': case 'int32': return BigInt(v).toString()
    case 'double': case 'float': return Object.is(v, -0) ? '-0' : String(v)
    case 'boolean': return v ? 'true' : 'false'
    case 'string': return JSON.stringify(v)
    case 'timestamp': return JSON.stringify(fmtTimestamp(v))
    case 'date': return JSON.stringify(fmtDate(v))
    default: return JSON.stringify(String(v))
  }
}

function dump (cols, rows) {
  const out = ['columns: ' + cols.map(c => c.name + ':' + c.type).join(', '), 'rows: ' + rows.length]
  for (const r of rows) out.push('[' + r.map((v, i) => fmtValue(cols[i].type, v)).join(', ') + ']')
  return out.join('\n') + '\n'
}

// ---- DuckDB ----

const duckTypes = {
  BIGINT: 'int64', INTEGER: 'int32', DOUBLE: 'double', FLOAT: 'float', BOOLEAN: 'boolean', VARCHAR: 'string',
  'TIMESTAMP WITH TIME ZONE': 'timestamp', TIMESTAMP: 'timestamp_naive', DATE: 'date', BLOB: 'binary'
}

async function readDuckdb (file) {
  const { DuckDBInstance } = require('@duckdb/node-api')
  const inst = await DuckDBInstance.create(':memory:', { threads: '1' })
  const con = await inst.connect()
  const q = s => "'" + s.replace(/'/g, "''") + "'"
  const id = s => '"' + s.replace(/"/g, '""') + '"'
  const desc = await (await con.run(`DESCRIBE SELECT * FROM read_parquet(${q(file)})`)).getRowsJS()
  const cols = desc.map(r => ({ name: r[0], type: duckTypes[r[1]] || r[1] }))
  // timestamps and dates as integers, so that no precision is lost on the way
  const sel = cols.map(c => c.type === 'timestamp' ? `epoch_us(${id(c.name)})`
    : c.type === 'date' ? `(${id(c.name)} - DATE '1970-01-01')`
      : id(c.name))
  const rows = cols.length
    ? await (await con.run(`SELECT ${sel.join(', ')} FROM read_parquet(${q(file)})`)).getRowsJS()
    : []
  return { cols, rows }
}

// ---- hyparquet ----

function hyType (el) {
  const lt = el.logical_type
  if (el.type === 'INT64' && lt?.type === 'TIMESTAMP') {
    if (lt.unit !== 'MICROS') return 'timestamp_' + lt.unit
    return lt.isAdjustedToUTC ? 'timestamp' : 'timestamp_naive'
  }
  if (el.type === 'INT32' && (lt?.type === 'DATE' || el.converted_type === 'DATE')) return 'date'
  if (el.type === 'BYTE_ARRAY') return (lt?.type === 'STRING' || el.converted_type === 'UTF8') ? 'string' : 'binary'
  return { INT64: 'int64', INT32: 'int32', DOUBLE: 'double', FLOAT: 'float', BOOLEAN: 'boolean' }[el.type] || el.type
}

async function readHyparquet (file) {
  const buf = await asyncBufferFromFile(file)
  const md = await parquetMetadataAsync(buf)
  const cols = md.schema.slice(1).map(el => ({ name: el.name, type: hyType(el) }))
  let rows = []
  if (cols.length && Number(md.num_rows) > 0) {
    await parquetRead({
      file: buf,
      metadata: md,
      compressors,
      utf8: false,
      parsers: {
        timestampFromMicroseconds: v => v,
        dateFromDays: v => v,
        stringFromBytes: b => b && utf8.decode(b)
      },
      onComplete: data => { rows = data }
    })
  }
  return { cols, rows }
}

// ---- metadata ----

async function meta (file) {
  const buf = await asyncBufferFromFile(file)
  const md = await parquetMetadataAsync(buf)
  const out = [`version: ${md.version}`, `rows: ${md.num_rows}`, `row groups: ${md.row_groups.length}`,
    `created by: ${md.created_by}`]
  md.row_groups.forEach((rg, g) => {
    out.push(`row group ${g}: ${rg.num_rows} rows`)
    for (const cc of rg.columns) {
      const m = cc.meta_data
      const pages = (m.encoding_stats || []).map(s => `${s.page_type}/${s.encoding}x${s.count}`).join(' ')
      const st = m.statistics || {}
      const sv = v => v === undefined ? '-' : (v instanceof Date ? v.toISOString() : typeof v === 'bigint' ? v.toString() : JSON.stringify(v))
      out.push(`  ${m.path_in_schema.join('.')}: ${m.codec} values=${m.num_values} encodings=${m.encodings.join(',')} ` +
        `pages=${pages} nulls=${st.null_count ?? '-'} min=${sv(st.min_value)} max=${sv(st.max_value)}`)
    }
  })
  return out.join('\n') + '\n'
}

// ---- main ----

const args = process.argv.slice(2)
let reader = 'both'
let file
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--reader') reader = args[++i]
  else if (args[i] === '--meta') reader = 'meta'
  else file = args[i]
}
if (!file) {
  console.error('usage: node check.mjs [--reader duckdb|hyparquet | --meta] FILE.parquet')
  process.exit(2)
}
try {
  if (reader === 'meta') {
    process.stdout.write(await meta(file))
  } else if (reader === 'duckdb' || reader === 'hyparquet') {
    const r = reader === 'duckdb' ? await readDuckdb(file) : await readHyparquet(file)
    process.stdout.write(dump(r.cols, r.rows))
  } else {
    const a = dump(...Object.values(await readDuckdb(file)))
    const b = dump(...Object.values(await readHyparquet(file)))
    if (a !== b) {
      process.stdout.write('DuckDB and hyparquet disagree\n--- duckdb\n' + a + '--- hyparquet\n' + b)
      process.exit(1)
    }
    process.stdout.write(a)
  }
} catch (e) {
  console.error(`check.mjs: ${file}: ${e && e.message ? e.message : e}`)
  process.exit(1)
}
