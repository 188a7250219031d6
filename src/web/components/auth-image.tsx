/**
 * An image from the API. Without a token it is a plain `<img src>` (the browser caches and
 * decodes it off the main thread); with one, the bytes are fetched with the header and shown
 * from an object URL, since `<img>` cannot send headers.
 */
import { useEffect, useState } from "preact/hooks";
import { fetchImage, getToken } from "../api/api-client.js";

export interface AuthImageProps {
  readonly src: string | null;
  readonly alt: string;
  readonly class?: string;
  readonly onLoadState?: (ok: boolean) => void;
}

export function AuthImage({ src, alt, class: cls, onLoadState }: AuthImageProps) {
  const token = getToken();
  const [shown, setShown] = useState<string | null>(token === "" ? src : null);
  const [failed, setFailed] = useState(false);
  useEffect(() => {
    setFailed(false);
    if (src === null) {
      setShown(null);
      return undefined;
    }
    if (token === "") {
      setShown(src);
      return undefined;
    }
    let url: string | null = null;
    let cancelled = false;
    fetchImage(src).then(
      (u) => {
        if (cancelled) URL.revokeObjectURL(u);
        else setShown((url = u));
      },
      () => {
        setFailed(true);
        onLoadState?.(false);
      },
    );
    return () => {
      cancelled = true;
      // Revoked after the next image replaced it, so the picture never flashes empty.
      if (url !== null) {
        const old = url;
        setTimeout(() => URL.revokeObjectURL(old), 1000);
      }
    };
  }, [src, token, onLoadState]);
  if (shown === null || failed) return <span class={`${cls ?? ""} no-picture`}>No picture</span>;
  return (
    <img
      class={cls}
      src={shown}
      alt={alt}
      decoding="async"
      onLoad={() => onLoadState?.(true)}
      onError={() => {
        setFailed(true);
        onLoadState?.(false);
      }}
    />
  );
}
