/* Slack's mrkdwn, rendered the way Slack renders it, into DOM nodes (never innerHTML).
 *
 *   Mrkdwn.render("*Payroll* on <!date^1796979600^{date_short_pretty}|Fri 11 Dec> for <@U0ADMIN>", ctx)
 *   -> a <div> with <b>Payroll</b>, the date in the reader's locale and time zone, "@Maria Lopez"
 *
 * ctx: {users: {U..: "Maria Lopez"}, channels: {C..: "cash-flow"}, onAppLink(url)}.
 * Handles *bold*, _italics_, ~strike~, `code`, ```blocks```, > quotes, <url|links>, <@U..>,
 * <#C..|name>, <!here>, <!date^ts^format|fallback>, :emoji: and Slack's &lt; &gt; &amp; escapes.
 */
(function () {
  "use strict";

  const EMOJI = {
    white_check_mark: "\u2705", heavy_check_mark: "\u2714\uFE0F", ballot_box_with_check: "\u2611\uFE0F",
    warning: "\u26A0\uFE0F", rotating_light: "\uD83D\uDEA8", red_circle: "\uD83D\uDD34",
    large_yellow_circle: "\uD83D\uDFE1", large_green_circle: "\uD83D\uDFE2", large_blue_circle: "\uD83D\uDD35",
    white_circle: "\u26AA", black_circle: "\u26AB", x: "\u274C", pencil2: "\u270F\uFE0F", memo: "\uD83D\uDCDD",
    mailbox_with_mail: "\uD83D\uDCEC", email: "\uD83D\uDCE7", envelope: "\u2709\uFE0F", mag: "\uD83D\uDD0D",
    leftwards_arrow_with_hook: "\u21A9\uFE0F", hourglass_flowing_sand: "\u23F3", hourglass: "\u231B",
    gear: "\u2699\uFE0F", fast_forward: "\u23E9", face_with_head_bandage: "\uD83E\uDD15",
    calendar: "\uD83D\uDCC6", date: "\uD83D\uDCC5", spiral_calendar_pad: "\uD83D\uDDD3\uFE0F",
    arrow_up: "\u2B06\uFE0F", arrow_down: "\u2B07\uFE0F", arrow_right: "\u27A1\uFE0F",
    chart_with_upwards_trend: "\uD83D\uDCC8", chart_with_downwards_trend: "\uD83D\uDCC9", bar_chart: "\uD83D\uDCCA",
    moneybag: "\uD83D\uDCB0", money_with_wings: "\uD83D\uDCB8", dollar: "\uD83D\uDCB5", bank: "\uD83C\uDFE6",
    credit_card: "\uD83D\uDCB3", bell: "\uD83D\uDD14", tada: "\uD83C\uDF89", wave: "\uD83D\uDC4B",
    information_source: "\u2139\uFE0F", bulb: "\uD83D\uDCA1", sunny: "\u2600\uFE0F", sunrise: "\uD83C\uDF05",
    lock: "\uD83D\uDD12", key: "\uD83D\uDD11", alarm_clock: "\u23F0", clock9: "\uD83D\uDD58",
    thumbsup: "\uD83D\uDC4D", "+1": "\uD83D\uDC4D", eyes: "\uD83D\uDC40", sparkles: "\u2728", zap: "\u26A1",
    no_entry: "\u26D4", no_entry_sign: "\uD83D\uDEAB", heavy_plus_sign: "\u2795", heavy_minus_sign: "\u2796",
    point_right: "\uD83D\uDC49", thinking_face: "\uD83E\uDD14", hammer_and_wrench: "\uD83D\uDEE0\uFE0F",
    package: "\uD83D\uDCE6", inbox_tray: "\uD83D\uDCE5", outbox_tray: "\uD83D\uDCE4", robot_face: "\uD83E\uDD16",
    shield: "\uD83D\uDEE1\uFE0F", busts_in_silhouette: "\uD83D\uDC65", bust_in_silhouette: "\uD83D\uDC64",
    office: "\uD83C\uDFE2", receipt: "\uD83E\uDDFE", scales: "\u2696\uFE0F", repeat: "\uD83D\uDD01",
    link: "\uD83D\uDD17", pushpin: "\uD83D\uDCCC", question: "\u2753", exclamation: "\u2757",
  };
  const MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December"];
  const DAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];
  const SAFE_SCHEMES = /^(https?:|mailto:|slack:)/i;
  // Links that open a place in Slack itself (the app's Home or DM): the page opens its own pane.
  const APP_LINK = /^(slack:|https:\/\/(app\.)?slack\.com\/app_redirect\?)/i;
  const isAppLink = (url) => APP_LINK.test(String(url || ""));

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  function decode(text) {
    return String(text).replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
  }

  function emojify(text) {
    return String(text).replace(/:([a-z0-9_+'-]+):/g, (whole, name) => EMOJI[name] || whole);
  }

  // -- dates: <!date^1796979600^{date_short_pretty} {time}|Fri 11 Dec> ----------------------------

  function ordinal(n) {
    const rest = n % 100;
    if (rest >= 11 && rest <= 13) return n + "th";
    return n + ({ 1: "st", 2: "nd", 3: "rd" }[n % 10] || "th");
  }

  function dayOffset(date, now) {
    const a = new Date(date.getFullYear(), date.getMonth(), date.getDate());
    const b = new Date(now.getFullYear(), now.getMonth(), now.getDate());
    return Math.round((a - b) / 86400000);
  }

  function pretty(date, now, fallback) {
    const offset = dayOffset(date, now);
    if (offset === 0) return "today";
    if (offset === -1) return "yesterday";
    if (offset === 1) return "tomorrow";
    return fallback;
  }

  function clock(date, seconds) {
    const options = { hour: "numeric", minute: "2-digit" };
    if (seconds) options.second = "2-digit";
    return date.toLocaleTimeString("en-US", options);
  }

  function ago(date, now) {
    const seconds = Math.round((now - date) / 1000);
    const abs = Math.abs(seconds);
    const units = [[86400 * 365, "year"], [86400 * 30, "month"], [86400, "day"], [3600, "hour"], [60, "minute"]];
    for (const [size, name] of units) {
      if (abs >= size) {
        const n = Math.floor(abs / size);
        const phrase = n + " " + name + (n === 1 ? "" : "s");
        return seconds >= 0 ? phrase + " ago" : "in " + phrase;
      }
    }
    return seconds >= 0 ? "just now" : "in a moment";
  }

  function formatDate(unix, format, now) {
    const date = new Date(unix * 1000);
    now = now || new Date();
    const y = date.getFullYear();
    const shortMonth = MONTHS[date.getMonth()].slice(0, 3);
    const long = DAYS[date.getDay()] + ", " + MONTHS[date.getMonth()] + " " + ordinal(date.getDate()) + ", " + y;
    const plain = MONTHS[date.getMonth()] + " " + ordinal(date.getDate()) + ", " + y;
    const short = shortMonth + " " + date.getDate() + ", " + y;
    const tokens = {
      date_num: y + "-" + String(date.getMonth() + 1).padStart(2, "0") + "-" + String(date.getDate()).padStart(2, "0"),
      date: plain,
      date_short: short,
      date_long: long,
      date_pretty: pretty(date, now, plain),
      date_short_pretty: pretty(date, now, short),
      date_long_pretty: pretty(date, now, long),
      time: clock(date, false),
      time_secs: clock(date, true),
      ago: ago(date, now),
    };
    return format.replace(/\{([a-z_]+)\}/g, (whole, name) => (name in tokens ? tokens[name] : whole));
  }

  // -- <...> specials ----------------------------------------------------------------------------

  function special(inner, ctx, parent) {
    const bar = inner.indexOf("|");
    const target = bar >= 0 ? inner.slice(0, bar) : inner;
    const label = bar >= 0 ? inner.slice(bar + 1) : "";
    if (target.startsWith("@")) {
      const id = target.slice(1);
      const name = (ctx.users && ctx.users[id]) || decode(label) || id;
      parent.appendChild(el("span", "mention", "@" + name));
      return;
    }
    if (target.startsWith("#")) {
      const id = target.slice(1);
      const name = (ctx.channels && ctx.channels[id]) || decode(label) || id;
      parent.appendChild(el("span", "mention channel-mention", "#" + name));
      return;
    }
    if (target.startsWith("!date^")) {
      const parts = target.split("^");
      const unix = Number(parts[1]);
      const text = Number.isFinite(unix) ? formatDate(unix, parts[2] || "{date}") : decode(label);
      const link = parts[3];
      const node = link && SAFE_SCHEMES.test(link) ? el("a", "date-token", text) : el("time", "date-token", text);
      if (node.tagName === "A") { node.setAttribute("href", link); node.target = "_blank"; node.rel = "noopener"; }
      else if (Number.isFinite(unix)) node.setAttribute("datetime", new Date(unix * 1000).toISOString());
      node.title = decode(label);
      parent.appendChild(node);
      return;
    }
    if (target.startsWith("!subteam^")) {
      parent.appendChild(el("span", "mention", decode(label) || "@group"));
      return;
    }
    if (target.startsWith("!")) {
      parent.appendChild(el("span", "mention", "@" + (decode(label) || target.slice(1))));
      return;
    }
    const url = decode(target);
    if (!SAFE_SCHEMES.test(url)) {
      parent.appendChild(document.createTextNode(decode("<" + inner + ">")));
      return;
    }
    const anchor = el("a", "link", emojify(decode(label || target)));
    anchor.setAttribute("href", url);
    if (isAppLink(url)) {
      anchor.addEventListener("click", (event) => { event.preventDefault(); if (ctx.onAppLink) ctx.onAppLink(url); });
    } else {
      anchor.target = "_blank";
      anchor.rel = "noopener noreferrer";
    }
    parent.appendChild(anchor);
  }

  // -- inline formatting -------------------------------------------------------------------------

  const TAGS = { "*": "b", "_": "i", "~": "s" };
  const WORD = /[\p{L}\p{N}]/u;

  function canOpen(text, i) {
    const before = i === 0 ? "" : text[i - 1];
    const after = text[i + 1];
    return (before === "" || !WORD.test(before)) && after !== undefined && !/\s/.test(after) && after !== text[i];
  }

  function closer(text, marker, i) {
    for (let j = i + 2; j < text.length; j++) {
      if (text[j] === "\n") return -1;
      if (text[j] !== marker) continue;
      const before = text[j - 1];
      const after = j + 1 < text.length ? text[j + 1] : "";
      if (!/\s/.test(before) && (after === "" || !WORD.test(after))) return j;
    }
    return -1;
  }

  function inline(text, ctx, parent) {
    let buffer = "";
    const flush = () => {
      if (buffer) parent.appendChild(document.createTextNode(emojify(decode(buffer))));
      buffer = "";
    };
    let i = 0;
    while (i < text.length) {
      const c = text[i];
      if (c === "`") {
        const j = text.indexOf("`", i + 1);
        if (j > i + 1) {
          flush();
          parent.appendChild(el("code", "mrk-code", decode(text.slice(i + 1, j))));
          i = j + 1;
          continue;
        }
      } else if (c === "<") {
        const j = text.indexOf(">", i + 1);
        if (j > i + 1) {
          flush();
          special(text.slice(i + 1, j), ctx, parent);
          i = j + 1;
          continue;
        }
      } else if (TAGS[c] && canOpen(text, i)) {
        const j = closer(text, c, i);
        if (j > 0) {
          flush();
          const node = el(TAGS[c]);
          inline(text.slice(i + 1, j), ctx, node);
          parent.appendChild(node);
          i = j + 1;
          continue;
        }
      }
      buffer += c;
      i++;
    }
    flush();
  }

  function lines(text, ctx, parent) {
    const rows = text.split("\n");
    let quote = null;
    rows.forEach((row, index) => {
      const quoted = /^(&gt;|>) ?/.exec(row);
      if (quoted) {
        if (!quote) { quote = el("blockquote", "mrk-quote"); parent.appendChild(quote); }
        else quote.appendChild(el("br"));
        inline(row.slice(quoted[0].length), ctx, quote);
        return;
      }
      if (quote) { quote = null; if (row === "") return; }
      else if (index > 0) parent.appendChild(el("br"));
      inline(row, ctx, parent);
    });
  }

  /** mrkdwn text -> a <div class="mrkdwn"> of DOM nodes. */
  function render(text, ctx) {
    ctx = ctx || {};
    const root = el("div", "mrkdwn");
    const source = String(text || "");
    const fence = /```([\s\S]*?)```/g;
    let last = 0;
    let match;
    while ((match = fence.exec(source)) !== null) {
      const before = source.slice(last, match.index).replace(/\n$/, "");
      if (before) lines(before, ctx, root);
      root.appendChild(el("pre", "mrk-pre", decode(match[1].replace(/^\n/, ""))));
      last = fence.lastIndex;
      if (source[last] === "\n") last += 1;
    }
    const rest = source.slice(last);
    if (rest) lines(rest, ctx, root);
    return root;
  }

  /** plain_text -> a text node (emoji shortcodes converted unless emoji: false). */
  function plain(textObject) {
    if (!textObject) return "";
    const text = typeof textObject === "string" ? textObject : String(textObject.text || "");
    return textObject.emoji === false ? text : emojify(text);
  }

  window.Mrkdwn = { render, plain, emojify, decode, formatDate, el, isAppLink };
})();
