/**
 * One IntersectionObserver for every tile: a tile off screen stops reading its levels and
 * thumbnail signals, so a hundred streams cost only what is visible.
 */
import { useSignal } from "@preact/signals";
import type { Signal } from "@preact/signals";
import type { RefObject } from "preact";
import { useEffect } from "preact/hooks";

const callbacks = new WeakMap<Element, (visible: boolean) => void>();
let observer: IntersectionObserver | null = null;

function shared(): IntersectionObserver {
  observer ??= new IntersectionObserver(
    (entries) => {
      for (const e of entries) callbacks.get(e.target)?.(e.isIntersecting);
    },
    // A margin so a tile is drawn just before it scrolls in.
    { rootMargin: "200px" },
  );
  return observer;
}

export function useVisible(ref: RefObject<Element | null>): Signal<boolean> {
  const visible = useSignal(false);
  useEffect(() => {
    const el = ref.current;
    if (!el) return undefined;
    if (typeof IntersectionObserver === "undefined") {
      visible.value = true;
      return undefined;
    }
    callbacks.set(el, (v) => (visible.value = v));
    shared().observe(el);
    return () => {
      shared().unobserve(el);
      callbacks.delete(el);
    };
  }, [ref, visible]);
  return visible;
}
