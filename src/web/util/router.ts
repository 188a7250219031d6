/** Hash routing: `#/`, `#/journal`, `#/channel/<id>`, `#/maintenance`; links work without a server route. */
import { signal } from "@preact/signals";

export type Route =
  | { readonly page: "wall" }
  | { readonly page: "journal" }
  | { readonly page: "maintenance" }
  | { readonly page: "channel"; readonly id: string };

export function parseRoute(hash: string): Route {
  const parts = (hash.replace(/^#\/?/, "").split("?")[0] ?? "").split("/");
  switch (parts[0]) {
    case "journal":
      return { page: "journal" };
    case "maintenance":
      return { page: "maintenance" };
    case "channel":
      return parts[1] ? { page: "channel", id: decodeURIComponent(parts[1]) } : { page: "wall" };
    default:
      return { page: "wall" };
  }
}

export function routeHref(r: Route): string {
  return r.page === "wall"
    ? "#/"
    : r.page === "channel"
      ? `#/channel/${encodeURIComponent(r.id)}`
      : `#/${r.page}`;
}

export const route = signal<Route>(parseRoute(location.hash));
window.addEventListener("hashchange", () => (route.value = parseRoute(location.hash)));
