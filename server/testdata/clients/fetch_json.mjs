// node-fetch with the Content-Type fix of dthree/node-piston pull request
// 4: a string body is sent as application/json.
import fetch from "node-fetch";

export default function fetchJSON(url, init = {}) {
  if (typeof init.body === "string") {
    init = { ...init, headers: { "Content-Type": "application/json", ...(init.headers || {}) } };
  }
  return fetch(url, init);
}
