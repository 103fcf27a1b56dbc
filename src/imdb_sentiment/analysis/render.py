"""The report as Markdown and as a self-contained HTML page, from one list of blocks: ("h1", text), ("p", text),
("quote", text), ("img", title, file), ("table", header, rows)."""

from __future__ import annotations

import html


def markdown(blocks) -> str:
    lines = []
    for kind, *body in blocks:
        if kind in ("h1", "h2", "h3"):
            lines.append(f"{'#' * int(kind[1])} {body[0]}\n")
        elif kind == "p":
            lines.append(body[0] + "\n")
        elif kind == "quote":
            lines.append(f"> {body[0]}\n")
        elif kind == "img":
            lines.append(f"![{body[0]}]({body[1]})\n")
        elif kind == "table":
            header, rows = body
            lines.append("| " + " | ".join(header) + " |")
            lines.append("|" + "---|" * len(header))
            lines.extend("| " + " | ".join(str(c).replace("|", "/") for c in row) + " |" for row in rows)
            lines.append("")
    return "\n".join(lines)


def to_html(blocks) -> str:
    def inline(text: str) -> str:
        parts = html.escape(text).split("**")
        return "".join(f"<strong>{p}</strong>" if i % 2 else p for i, p in enumerate(parts))

    out = ["<!doctype html><html><head><meta charset='utf-8'><title>IMDB sentiment: model comparison</title>",
           "<style>body{font-family:system-ui,sans-serif;max-width:72rem;margin:2rem auto;padding:0 1rem}"
           "table{border-collapse:collapse;margin:1rem 0}td,th{padding:.3rem .6rem;border-bottom:1px solid #ddd;"
           "text-align:left}blockquote{color:#444;border-left:3px solid #ccc;margin:.6rem 0;padding-left:.8rem}"
           "img{max-width:100%}</style></head><body>"]
    for kind, *body in blocks:
        if kind in ("h1", "h2", "h3"):
            out.append(f"<{kind}>{html.escape(body[0])}</{kind}>")
        elif kind == "p":
            out.append(f"<p>{inline(body[0])}</p>")
        elif kind == "quote":
            out.append(f"<blockquote>{html.escape(body[0])}</blockquote>")
        elif kind == "img":
            out.append(f"<figure><img src='{body[1]}' alt='{html.escape(body[0])}'><figcaption>"
                       f"{html.escape(body[0])}</figcaption></figure>")
        elif kind == "table":
            header, rows = body
            out.append("<table><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in header) + "</tr>"
                       + "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>"
                                 for row in rows) + "</table>")
    out.append("</body></html>")
    return "\n".join(out)
