/**
 * The page frame: navigation, the summary bar, the current page, the acknowledge dialog, and
 * a token form when the server asks for one.
 */
import { useSignal } from "@preact/signals";
import { useEffect } from "preact/hooks";
import { getToken, onUnauthorized, setToken } from "../api/api-client.js";
import type { LiveStore } from "../live/live-store.js";
import { route, routeHref, type Route } from "../util/router.js";
import { AckDialog } from "./ack-dialog.js";
import { ChannelPage } from "./channel-page.js";
import { JournalPage } from "./journal-page.js";
import { MaintenancePage } from "./maintenance-page.js";
import { SummaryBar } from "./summary-bar.js";
import { WallPage } from "./wall-page.js";

const NAV: readonly { readonly route: Route; readonly label: string }[] = [
  { route: { page: "wall" }, label: "Wall" },
  { route: { page: "journal" }, label: "Journal" },
  { route: { page: "maintenance" }, label: "Maintenance" },
];

function TokenForm({ store }: { store: LiveStore }) {
  const value = useSignal(getToken());
  return (
    <form
      class="token-form"
      aria-label="API token"
      onSubmit={(e) => {
        e.preventDefault();
        setToken(value.value.trim());
        // The event stream carries the token in its URL: start again with the new one.
        location.reload();
      }}
    >
      <label>
        This server needs an API token
        <input
          type="password"
          autoComplete="off"
          value={value.value}
          onInput={(e) => (value.value = e.currentTarget.value)}
        />
      </label>
      <button type="submit" class="primary">
        Use token
      </button>
      {store.loadError.value ? <span class="error">{store.loadError.value}</span> : null}
    </form>
  );
}

export function AppShell({ store }: { store: LiveStore }) {
  const needToken = useSignal(false);
  useEffect(() => onUnauthorized(() => (needToken.value = true)), []);
  const r = route.value;
  let page;
  switch (r.page) {
    case "journal":
      page = <JournalPage store={store} />;
      break;
    case "maintenance":
      page = <MaintenancePage store={store} />;
      break;
    case "channel":
      page = <ChannelPage store={store} id={r.id} />;
      break;
    default:
      page = <WallPage store={store} />;
  }
  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <span class="brand">streamqc</span>
        <nav aria-label="Pages">
          <ul>
            {NAV.map((n) => (
              <li key={n.label}>
                <a href={routeHref(n.route)} aria-current={n.route.page === r.page ? "page" : undefined}>
                  {n.label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <SummaryBar store={store} />
      </header>
      {needToken.value ? <TokenForm store={store} /> : null}
      <main id="main" tabIndex={-1}>
        {page}
      </main>
      <AckDialog store={store} />
    </>
  );
}
