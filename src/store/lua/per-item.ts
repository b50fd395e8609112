/** Lua that runs a script once per item of a batch (see script-registry.ts). */

/**
 * Runs `body` (a script of KEYS and ARGV) once per item of a batch, in order, and returns
 * the list of its answers: one script call for a batch instead of one per item (the calls,
 * not the work inside them, were most of the CPU a delivery cost in the gateway and Redis).
 * KEYS: each item's keys in turn. ARGV: keys per item, arguments per item, then each item's
 * arguments in turn. Each item succeeds or fails on its own, as it would in a call of its
 * own: a failing item's answer is its error (what it wrote before failing stays written,
 * since Redis never undoes a script's writes), and the items after it still run.
 */
export function perItem(body: string): string {
  return `
local function item(KEYS, ARGV)
${body}
end
local nk, na = tonumber(ARGV[1]), tonumber(ARGV[2])
local out = {}
for i = 0, (#ARGV - 2) / na - 1 do
  local keys, args = {}, {}
  for j = 1, nk do keys[j] = KEYS[i * nk + j] end
  for j = 1, na do args[j] = ARGV[2 + i * na + j] end
  local ok, answer = pcall(item, keys, args)
  if ok then out[i + 1] = answer or false
  elseif type(answer) == 'table' and answer.err then out[i + 1] = answer
  else out[i + 1] = {err = tostring(answer)} end
end
return out
`;
}
