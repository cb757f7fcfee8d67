// node --import ./piston_json.mjs piston_client.mjs ...
// piston-client 1.0.2 posts JSON without a Content-Type (node-fetch then
// sends text/plain), which Piston answers with 415 "requests must be of
// type application/json"; its open fix (dthree/node-piston pull request
// 4) adds the header. This hook applies exactly that fix: piston-client's
// import of node-fetch gets a fetch that adds Content-Type:
// application/json to string bodies. Everything else is the published
// client.
import { register } from "node:module";

register("./piston_json_hooks.mjs", import.meta.url);
