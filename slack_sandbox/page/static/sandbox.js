/* The sandbox page: a Slack workspace for Tamio, drawn from /sandbox/state and acting through /sandbox/*.
 *
 * It long-polls the member's view of the workspace (channels, the DM with the app, ephemerals,
 * App Home, the open modal, mail sent) and renders it with mrkdwn.js, elements.js, blockkit.js,
 * messages.js and dialogs.js; what the person types or clicks goes to the stand-in, which sends the
 * Slack-signed request to the real app. Rendered messages are cached by their JSON, so a radio
 * button picked or a field half typed survives other updates.
 */
(function () {
  "use strict";
  const { el } = window.Mrkdwn;
  const config = JSON.parse(document.getElementById("sandbox-config").textContent);
  const people = new Map(config.people.map((p) => [p.id, p]));
  const params = new URLSearchParams(window.location.search);
  const stored = window.localStorage.getItem("tamio-sandbox-member");

  let me = people.has(params.get("as")) ? params.get("as") : people.has(stored) ? stored : config.people[0].id;
  let pane = { kind: "channel", channel: config.channel_id };
  let snap = null;
  let version = -1;
  let generation = 0;
  let controller = null;
  const states = new Map(); // surface key -> state.values
  const cache = new Map(); // render key -> {json, node}
  const modalErrors = new Map(); // view id -> {block_id: message}
  const dismissed = new Set(); // ephemeral ts
  const notes = []; // local notes, like Slackbot's "/tamio failed with the error ..."

  const $ = (id) => document.getElementById(id);
  const memberSelect = $("member");
  const paneTitle = $("pane-title");
  const paneTabs = $("pane-tabs");
  const paneBody = $("pane-body");
  const composerArea = $("composer-area");
  const composer = $("composer");
  const hints = $("command-hints");
  const modalRoot = $("modal-root");

  // -- talking to the stand-in ---------------------------------------------------------------------

  async function post(path, body) {
    try {
      const response = await fetch(path, {
        method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ user: me, ...body }),
      });
      return await response.json();
    } catch (error) {
      return { ok: false, status: 0, error: "The sandbox server is not answering (" + error + ")." };
    }
  }

  async function poll() {
    const mine = ++generation;
    if (controller) controller.abort();
    while (mine === generation) {
      controller = new AbortController();
      try {
        const url = "/sandbox/state?user=" + encodeURIComponent(me) + "&since=" + version;
        const response = await fetch(url, { signal: controller.signal, cache: "no-store" });
        if (!response.ok) throw new Error("status " + response.status);
        const data = await response.json();
        if (mine !== generation) return;
        document.body.classList.remove("offline");
        if (!snap || data.version !== version) {
          snap = data;
          version = data.version;
          render();
        }
      } catch (error) {
        if (mine !== generation) return;
        document.body.classList.add("offline");
        await new Promise((resolve) => setTimeout(resolve, 1000));
      }
    }
  }

  function toast(message) {
    const node = el("div", "toast", message);
    document.body.appendChild(node);
    setTimeout(() => node.remove(), 6000);
  }

  function failure(result, what) {
    if (result.ok) return null;
    if (result.error) return result.error;
    return what + " failed with the error \"" + (result.status ? "http_" + result.status : "dispatch_failed") + "\"";
  }

  // -- context for mrkdwn and Block Kit ------------------------------------------------------------

  function renderContext() {
    const channels = {};
    for (const channel of (snap && snap.channels) || []) channels[channel.id] = channel.name;
    return {
      users: (snap && snap.users) || {},
      channels,
      // slack://channel?...&id=C..: that channel; slack://app?...&tab=home and
      // https://slack.com/app_redirect?app=..: the app's Home (with tab=messages, its DM).
      onAppLink: (url) => {
        const channel = /^slack:\/\/channel\?.*\bid=([A-Z0-9]+)/i.exec(url);
        if (channel) openPane({ kind: "channel", channel: channel[1] });
        else openPane({ kind: "app", tab: /tab=messages/.test(url) ? "messages" : "home" });
      },
      confirm: (confirm) => window.SandboxDialogs.confirm(confirm, renderContext()),
    };
  }

  function hash(text) {
    let h = 0;
    for (let i = 0; i < text.length; i++) h = (h * 31 + text.charCodeAt(i)) | 0;
    return (h >>> 0).toString(36);
  }

  function surfaceFor(key, ref, extra) {
    if (!states.has(key)) states.set(key, {});
    const surface = {
      key, ref, state: states.get(key), errors: {},
      act: async (action, node) => {
        if (node) node.classList.add("busy");
        const result = await post("/sandbox/action", { surface: ref, action, state: surface.state });
        if (node) node.classList.remove("busy");
        const problem = failure(result, "Tamio");
        if (problem) toast(problem);
      },
      suggest: async (blockId, actionId, value) => {
        if (ref.kind !== "view") return { options: [] };
        return post("/sandbox/suggest", { view_id: ref.view_id, block_id: blockId, action_id: actionId, value });
      },
    };
    return Object.assign(surface, extra || {});
  }

  // -- the sidebar and the pane header -------------------------------------------------------------

  function openPane(next) {
    const wasHome = pane.kind === "app" && pane.tab === "home";
    pane = next;
    if (pane.kind === "app" && pane.tab === "home" && !wasHome) openHome();
    render(true);
  }

  async function openHome() {
    const result = await post("/sandbox/home", {});
    const problem = failure(result, "App Home");
    if (problem) toast(problem);
  }

  function renderNav() {
    const list = $("nav-channels");
    list.replaceChildren();
    for (const channel of snap.channels) {
      const item = el("button", "nav-item", "# " + channel.name);
      item.type = "button";
      item.classList.toggle("active", pane.kind === "channel" && pane.channel === channel.id);
      item.addEventListener("click", () => openPane({ kind: "channel", channel: channel.id }));
      list.appendChild(item);
    }
    $("nav-app").classList.toggle("active", pane.kind === "app");
    $("nav-mail").classList.toggle("active", pane.kind === "mail");
    $("mail-count").textContent = snap.mail.length ? String(snap.mail.length) : "";
  }

  function renderHeader() {
    paneTabs.replaceChildren();
    if (pane.kind === "channel") {
      const channel = snap.channels.find((c) => c.id === pane.channel);
      paneTitle.textContent = "# " + (channel ? channel.name : pane.channel);
    } else if (pane.kind === "app") {
      paneTitle.textContent = config.app_name;
      for (const [tab, label] of [["home", "Home"], ["messages", "Messages"]]) {
        const button = el("button", "tab", label);
        button.type = "button";
        button.setAttribute("role", "tab");
        button.setAttribute("aria-selected", String(pane.tab === tab));
        button.addEventListener("click", () => openPane({ kind: "app", tab }));
        paneTabs.appendChild(button);
      }
    } else {
      paneTitle.textContent = "Mail sent by Tamio";
    }
    const typing = pane.kind === "channel" || (pane.kind === "app" && pane.tab === "messages");
    composerArea.hidden = !typing;
    composer.placeholder = pane.kind === "channel" ? "Message " + paneTitle.textContent : "Message " + config.app_name;
  }

  // -- conversations, Home and mail (messages.js draws a message) -----------------------------------

  function renderMessage(message, channel, ephemeral) {
    let surface = null;
    if (Array.isArray(message.blocks) && message.blocks.length) {
      // Slack resets what was picked in a message when the app updates it.
      const versionTag = message.edited ? message.edited.ts : ephemeral ? hash(JSON.stringify(message.blocks)) : "";
      const key = me + "|" + channel + "|" + message.ts + "|" + versionTag;
      surface = surfaceFor(key, { kind: "message", channel, ts: message.ts, is_ephemeral: !!ephemeral });
    }
    return window.SandboxMessages.message(message, {
      ephemeral, surface, snap, appName: config.app_name, ctx: renderContext(),
      dismiss: () => { dismissed.add(message.ts); render(); },
    });
  }

  function cached(key, value, build) {
    const json = JSON.stringify(value) + "|" + JSON.stringify(snap.users) + "|" + Object.keys(snap.files).length;
    const hit = cache.get(key);
    if (hit && hit.json === json) return hit.node;
    const node = build();
    cache.set(key, { json, node });
    return node;
  }

  function renderConversation(channel) {
    const items = (snap.messages[channel] || []).map((m) => ({ m, ephemeral: false }));
    for (const e of snap.ephemerals) {
      if (e.channel === channel && !dismissed.has(e.ts)) items.push({ m: e, ephemeral: true });
    }
    for (const note of notes) if (note.channel === channel && !dismissed.has(note.ts)) items.push({ m: note, ephemeral: true });
    items.sort((a, b) => Number(a.m.ts) - Number(b.m.ts));
    const list = el("div", "messages");
    if (!items.length) {
      list.appendChild(el("p", "empty", "Nothing here yet. Type /tamio help below to see what Tamio does."));
    }
    for (const { m, ephemeral } of items) {
      const key = me + "|" + channel + "|" + m.ts + "|" + (ephemeral ? "e" : "m");
      list.appendChild(cached(key, m, () => renderMessage(m, channel, ephemeral)));
    }
    return list;
  }

  function renderHome() {
    const home = snap.home;
    if (!home) return el("p", "empty", "Opening App Home\u2026");
    const key = me + "|home|" + home.id + "|" + home.hash;
    return cached(key, home, () => {
      const box = el("div", "home");
      box.appendChild(window.BlockKit.render(home.blocks, surfaceFor(key, { kind: "view", view_id: home.id }), renderContext()));
      return box;
    });
  }

  function renderMail() {
    return window.SandboxMessages.mail(snap.mail);
  }

  // -- the modal (dialogs.js draws it; here it is wired to the stand-in) -------------------------------

  function renderModal() {
    const view = snap.modal;
    if (!view) {
      modalRoot.replaceChildren();
      return;
    }
    const errors = modalErrors.get(view.id) || {};
    const key = me + "|modal|" + view.id + "|" + view.hash;
    const json = JSON.stringify(view) + JSON.stringify(errors);
    const hit = cache.get(key);
    if (hit && hit.json === json && modalRoot.firstChild === hit.node) return;
    const surface = surfaceFor(key, { kind: "view", view_id: view.id }, { errors });
    const node = window.SandboxDialogs.modal(view, surface, renderContext(), {
      close: (all) => post("/sandbox/close", { view_id: view.id, all }),
      submit: async () => {
        const missing = window.BlockKit.missingRequired(view.blocks, surface);
        if (Object.keys(missing).length) {
          modalErrors.set(view.id, missing);
          renderModal();
          return;
        }
        const result = await post("/sandbox/submit", { view_id: view.id, state: surface.state });
        if (result.errors) {
          modalErrors.set(view.id, result.errors);
          renderModal();
        } else {
          modalErrors.delete(view.id);
          const problem = failure(result, "Submitting the form");
          if (problem) toast(problem);
        }
      },
    });
    cache.set(key, { json, node });
    modalRoot.replaceChildren(node);
  }

  // -- the whole page ------------------------------------------------------------------------------

  // Like Slack, a conversation stays at its newest message unless the reader scrolled up.
  let stick = true;
  const atBottom = () => paneBody.scrollHeight - paneBody.scrollTop - paneBody.clientHeight < 80;
  paneBody.addEventListener("scroll", () => { stick = atBottom(); });
  paneBody.addEventListener("load", () => {
    if (stick && !(pane.kind === "app" && pane.tab === "home")) paneBody.scrollTop = paneBody.scrollHeight;
  }, true);

  function render(jump) {
    if (!snap) return;
    const nearBottom = stick;
    renderNav();
    renderHeader();
    let content;
    if (pane.kind === "channel") content = renderConversation(pane.channel);
    else if (pane.kind === "app") content = pane.tab === "home" ? renderHome() : renderConversation(snap.dm);
    else content = renderMail();
    if (paneBody.firstChild !== content || paneBody.childNodes.length !== 1) paneBody.replaceChildren(content);
    if (pane.kind !== "app" || pane.tab !== "home") {
      if (jump || nearBottom) paneBody.scrollTop = paneBody.scrollHeight;
      if (jump) stick = true;
    } else if (jump) paneBody.scrollTop = 0;
    renderModal();
  }

  // -- the message box -----------------------------------------------------------------------------

  function currentChannel() {
    return pane.kind === "channel" ? pane.channel : snap ? snap.dm : null;
  }

  function showHints() {
    const typed = composer.value;
    hints.replaceChildren();
    if (!typed.startsWith("/") || typed.includes("  ")) { hints.hidden = true; return; }
    const matches = config.commands.filter((c) => c.text.startsWith(typed.trim()) && c.text !== typed.trim());
    for (const command of matches) {
      const item = el("li", "hint");
      item.appendChild(el("code", "", command.text));
      item.appendChild(el("span", "", command.hint));
      item.addEventListener("mousedown", (event) => {
        event.preventDefault();
        composer.value = command.text + " ";
        showHints();
        composer.focus();
      });
      hints.appendChild(item);
    }
    hints.hidden = matches.length === 0;
  }

  $("composer-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = composer.value.trim();
    const channel = currentChannel();
    if (!text || !channel) return;
    composer.value = "";
    stick = true;
    showHints();
    composerArea.classList.add("busy");
    const result = await post("/sandbox/command", { channel, text });
    composerArea.classList.remove("busy");
    const problem = failure(result, text.split(" ")[0]);
    if (problem) {
      notes.push({ channel, ts: String(Date.now() / 1000), text: ":warning: " + problem, user: "USLACKBOT" });
      render();
    }
  });
  composer.addEventListener("input", showHints);
  composer.addEventListener("blur", () => setTimeout(() => { hints.hidden = true; }, 150));

  memberSelect.value = me;
  memberSelect.addEventListener("change", () => {
    me = memberSelect.value;
    window.localStorage.setItem("tamio-sandbox-member", me);
    snap = null;
    version = -1;
    modalRoot.replaceChildren();
    poll();
    if (pane.kind === "app" && pane.tab === "home") openHome();
  });
  $("nav-app").addEventListener("click", () => openPane({ kind: "app", tab: "home" }));
  $("nav-mail").addEventListener("click", () => openPane({ kind: "mail" }));
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && snap && snap.modal && !document.querySelector(".confirm-backdrop")) {
      post("/sandbox/close", { view_id: snap.modal.id, all: true });
    }
  });

  poll();
})();
