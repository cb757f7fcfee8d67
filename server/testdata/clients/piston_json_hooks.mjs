// Module resolution hook for piston_json.mjs: node-fetch, imported from
// piston-client, resolves to fetch_json.mjs.
export async function resolve(specifier, context, next) {
  if (specifier === "node-fetch" && context.parentURL && context.parentURL.includes("/piston-client/")) {
    return { url: new URL("./fetch_json.mjs", import.meta.url).href, shortCircuit: true };
  }
  return next(specifier, context);
}
