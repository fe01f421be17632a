/* Slack's dialogs for the sandbox page: a modal view (title, blocks, Cancel/Submit, the X) and the
 * confirm dialog a button's ``confirm`` object asks for before its click is sent.
 *
 *   const node = SandboxDialogs.modal(view, surface, ctx, {close(all), submit()});
 *   if (await SandboxDialogs.confirm(button.confirm, ctx)) send();
 */
(function () {
  "use strict";
  const { el, plain } = window.Mrkdwn;

  /** The modal's backdrop node; Cancel closes this view, the X (and Escape) the whole stack. */
  function modal(view, surface, ctx, actions) {
    const backdrop = el("div", "modal-backdrop");
    const dialog = el("div", "modal");
    dialog.setAttribute("role", "dialog");
    dialog.setAttribute("aria-modal", "true");
    dialog.setAttribute("aria-label", plain(view.title));
    const head = el("div", "modal-head");
    head.appendChild(el("h2", "", plain(view.title)));
    const x = el("button", "modal-x", "\u00D7");
    x.type = "button";
    x.setAttribute("aria-label", "Close");
    x.addEventListener("click", () => actions.close(true));
    head.appendChild(x);
    const body = el("div", "modal-body");
    body.appendChild(window.BlockKit.render(view.blocks, surface, ctx));
    const foot = el("div", "modal-foot");
    const close = el("button", "bk-button", plain(view.close) || "Cancel");
    close.type = "button";
    close.addEventListener("click", () => actions.close(false));
    foot.appendChild(close);
    if (view.submit) {
      const submit = el("button", "bk-button primary", plain(view.submit));
      submit.type = "button";
      submit.addEventListener("click", async () => {
        submit.classList.add("busy");
        try {
          await actions.submit();
        } finally {
          submit.classList.remove("busy");
        }
      });
      foot.appendChild(submit);
    }
    dialog.append(head, body, foot);
    backdrop.appendChild(dialog);
    return backdrop;
  }

  /** Resolves true when the person confirms, false when they deny. */
  function confirm(object, ctx) {
    return new Promise((resolve) => {
      const backdrop = el("div", "modal-backdrop confirm-backdrop");
      const dialog = el("div", "modal confirm");
      const title = plain(object.title) || "Are you sure?";
      dialog.setAttribute("role", "alertdialog");
      dialog.setAttribute("aria-label", title);
      dialog.appendChild(el("h2", "", title));
      dialog.appendChild(window.BlockKit.text(object.text, ctx, "confirm-text"));
      const foot = el("div", "modal-foot");
      const deny = el("button", "bk-button", plain(object.deny) || "Cancel");
      const yes = el("button", "bk-button " + (object.style === "danger" ? "danger" : "primary"), plain(object.confirm) || "Yes");
      deny.type = yes.type = "button";
      const done = (answer) => { backdrop.remove(); resolve(answer); };
      deny.addEventListener("click", () => done(false));
      yes.addEventListener("click", () => done(true));
      foot.append(deny, yes);
      dialog.appendChild(foot);
      backdrop.appendChild(dialog);
      document.body.appendChild(backdrop);
      yes.focus();
    });
  }

  window.SandboxDialogs = { modal, confirm };
})();
