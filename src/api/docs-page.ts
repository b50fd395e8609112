/**
 * `GET /docs`: the OpenAPI document rendered server-side as one self-contained HTML page
 * (no scripts, no CDN: gateways often run without Internet access).
 */

type Json = Record<string, unknown>;

const escapeHtml = (text: string) =>
  text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

const METHODS = ['get', 'put', 'post', 'patch', 'delete'] as const;

function schemaBlock(schema: unknown): string {
  return `<details><summary>schema</summary><pre>${escapeHtml(JSON.stringify(schema, null, 2))}</pre></details>`;
}

function operationHtml(path: string, method: string, op: Json): string {
  const roles = Array.isArray(op.security) && op.security.length === 0 ? 'public' : ((op['x-roles'] as string[] | undefined) ?? []).join(', ');
  const params = (op.parameters as Json[] | undefined) ?? [];
  const responses = Object.entries((op.responses as Record<string, Json>) ?? {});
  const body = op.requestBody as Json | undefined;
  return `
<section class="op" id="${escapeHtml(String(op.operationId ?? `${method}${path}`))}">
  <h3><span class="method ${method}">${method.toUpperCase()}</span> <code>${escapeHtml(path)}</code></h3>
  <p>${escapeHtml(String(op.summary ?? ''))}${op.description ? `<br>${escapeHtml(String(op.description))}` : ''}</p>
  <p class="roles">Auth: <b>${escapeHtml(roles)}</b></p>
  ${
    params.length
      ? `<table><tr><th>parameter</th><th>in</th><th>required</th><th>schema</th><th>description</th></tr>${params
          .map(
            (p) =>
              `<tr><td><code>${escapeHtml(String(p.name))}</code></td><td>${escapeHtml(String(p.in))}</td><td>${p.required ? 'yes' : 'no'}</td>` +
              `<td><code>${escapeHtml(JSON.stringify(p.schema))}</code></td><td>${escapeHtml(String(p.description ?? ''))}</td></tr>`,
          )
          .join('')}</table>`
      : ''
  }
  ${body ? `<p>Request body</p>${schemaBlock(body)}` : ''}
  <table><tr><th>status</th><th>description</th><th>content</th></tr>${responses
    .map(([status, r]) => {
      const content = Object.entries((r.content as Record<string, Json> | undefined) ?? {});
      return `<tr><td>${escapeHtml(status)}</td><td>${escapeHtml(String(r.description ?? ''))}</td><td>${content
        .map(([type, c]) => `<code>${escapeHtml(type)}</code>${schemaBlock(c.schema)}`)
        .join('')}</td></tr>`;
    })
    .join('')}</table>
</section>`;
}

/** One HTML page listing every operation of `doc` with its parameters and schemas. */
export function renderDocsPage(doc: Json): string {
  const info = (doc.info ?? {}) as Json;
  const paths = (doc.paths ?? {}) as Record<string, Json>;
  const ops: { tag: string; html: string; path: string; method: string; id: string }[] = [];
  for (const [path, item] of Object.entries(paths)) {
    for (const method of METHODS) {
      const op = item[method] as Json | undefined;
      if (!op) continue;
      const tag = ((op.tags as string[] | undefined) ?? ['other'])[0] ?? 'other';
      ops.push({ tag, path, method, id: String(op.operationId ?? `${method}${path}`), html: operationHtml(path, method, op) });
    }
  }
  const tags = [...new Set(ops.map((op) => op.tag))];
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(String(info.title ?? 'API'))} API</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
code,pre{font-family:ui-monospace,monospace;font-size:12.5px}pre{background:#f6f6f6;padding:.6em;overflow:auto;max-height:30em}
table{border-collapse:collapse;margin:.4em 0 1em;width:100%}td,th{border:1px solid #ddd;padding:.25em .5em;text-align:left;vertical-align:top}
.op{border-top:1px solid #ccc;padding-top:.5em}.method{display:inline-block;min-width:4em;padding:0 .4em;border-radius:3px;color:#fff;background:#555}
.get{background:#2b6cb0}.post{background:#2f855a}.put,.patch{background:#b7791f}.delete{background:#c53030}.roles{color:#555}
</style></head><body>
<h1>${escapeHtml(String(info.title ?? 'API'))} <small>${escapeHtml(String(info.version ?? ''))}</small></h1>
<p>${escapeHtml(String(info.description ?? ''))}</p>
<p>Machine-readable: <a href="/openapi.json">/openapi.json</a> (OpenAPI ${escapeHtml(String(doc.openapi ?? ''))}). Authenticate with <code>Authorization: Bearer &lt;token&gt;</code>.</p>
<nav><ul>${ops.map((op) => `<li><a href="#${escapeHtml(op.id)}"><code>${op.method.toUpperCase()} ${escapeHtml(op.path)}</code></a></li>`).join('')}</ul></nav>
${tags.map((tag) => `<h2>${escapeHtml(tag)}</h2>${ops.filter((op) => op.tag === tag).map((op) => op.html).join('')}`).join('\n')}
</body></html>
`;
}
