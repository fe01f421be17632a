/* One message of a conversation as Slack draws it, and the sandbox's list of mail sent.
 *
 *   SandboxMessages.message(message, {ephemeral, surface, snap, appName, ctx, dismiss}) -> <article>
 *
 * The author (the app, with its APP badge, or a member by display name), the time, "(edited)"
 * after chat.update, "Only visible to you" with Dismiss for ephemerals, then the blocks (or the
 * mrkdwn text when there are none) and the files shared with the message (images shown inline).
 */
(function () {
  "use strict";
  const { el } = window.Mrkdwn;

  function timeOf(ts) {
    return new Date(Number(ts) * 1000).toLocaleTimeString("en-US", { hour: "numeric", minute: "2-digit" });
  }

  function author(message, ephemeral, snap, appName) {
    if (message.user === "USLACKBOT") return { name: "Slackbot", app: true };
    // Tamio's ephemerals carry the recipient as their user; Slack shows them as the app's.
    if (ephemeral || message.bot_id || message.user === snap.bot_user_id) return { name: appName, app: true };
    return { name: snap.users[message.user] || message.user || "someone", app: false };
  }

  function files(shared, snap) {
    const box = el("div", "files");
    for (const file of shared || []) {
      const known = snap.files[file.id];
      if (!known) continue;
      if (String(known.mimetype).startsWith("image/")) {
        const figure = el("figure", "file-image");
        figure.appendChild(el("figcaption", "", known.title));
        const img = el("img");
        img.src = known.url;
        img.alt = known.title;
        figure.appendChild(img);
        box.appendChild(figure);
      } else {
        const link = el("a", "file-link", known.title || known.name);
        link.href = known.url;
        link.target = "_blank";
        box.appendChild(link);
      }
    }
    return box;
  }

  function message(item, { ephemeral, surface, snap, appName, ctx, dismiss }) {
    const node = el("article", "message" + (ephemeral ? " ephemeral" : ""));
    node.dataset.ts = item.ts;
    const who = author(item, ephemeral, snap, appName);
    const avatar = el("div", "avatar" + (who.app ? " app" : ""), who.name.slice(0, 1).toUpperCase());
    avatar.setAttribute("aria-hidden", "true");
    const body = el("div", "message-body");
    if (ephemeral) {
      const only = el("div", "only-you");
      only.appendChild(el("span", "", "\uD83D\uDC41 Only visible to you"));
      const button = el("button", "dismiss", "Dismiss");
      button.type = "button";
      button.addEventListener("click", dismiss);
      only.appendChild(button);
      body.appendChild(only);
    }
    const head = el("div", "message-head");
    head.appendChild(el("span", "author", who.name));
    if (who.app) head.appendChild(el("span", "app-badge", "APP"));
    head.appendChild(el("time", "message-time", timeOf(item.ts)));
    if (item.edited) head.appendChild(el("span", "edited", "(edited)"));
    body.appendChild(head);
    if (surface) body.appendChild(window.BlockKit.render(item.blocks, surface, ctx));
    else if (item.text) body.appendChild(window.Mrkdwn.render(item.text, ctx));
    if (item.files) body.appendChild(files(item.files, snap));
    node.append(avatar, body);
    return node;
  }

  function mail(mails) {
    const list = el("div", "mail-list");
    if (!mails.length) {
      list.appendChild(el("p", "empty", "Emails Tamio sends (reminders, follow-ups) arrive here. Nothing sent yet."));
    }
    for (const sent of mails) {
      const card = el("article", "mail");
      card.appendChild(el("div", "mail-subject", sent.subject || "(no subject)"));
      card.appendChild(el("div", "mail-meta", "To " + sent.to + " \u00B7 from " + sent.sender + " \u00B7 " + timeOf(sent.received_at)));
      card.appendChild(el("pre", "mail-body", sent.body));
      list.appendChild(card);
    }
    return list;
  }

  window.SandboxMessages = { message, mail, timeOf };
})();
