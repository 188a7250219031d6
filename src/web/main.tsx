/** The dashboard's entry: one live store (one EventSource) for the whole page, then the shell. */
import { render } from "preact";
import "uplot/dist/uPlot.min.css";
import "./styles.css";
import { AppShell } from "./components/app-shell.js";
import { LiveStore } from "./live/live-store.js";

const store = new LiveStore();
store.start();
// For tests and the bench: counts of applied events and the connection state, read-only use.
(window as unknown as { streamqc: LiveStore }).streamqc = store;
render(<AppShell store={store} />, document.getElementById("app")!);
