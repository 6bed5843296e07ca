// Tag names of the @vscode/webview-ui-toolkit custom elements the panels create with `el()`.
declare global {
  interface HTMLElementTagNameMap {
    'vscode-button': HTMLElement;
    'vscode-badge': HTMLElement;
    'vscode-progress-ring': HTMLElement;
    'vscode-divider': HTMLElement;
    'vscode-checkbox': HTMLElement & { checked: boolean };
    'vscode-dropdown': HTMLElement & { value: string };
    'vscode-option': HTMLElement & { value: string };
    'vscode-text-field': HTMLElement & { value: string };
    'vscode-text-area': HTMLElement & { value: string };
    'vscode-panels': HTMLElement;
    'vscode-panel-tab': HTMLElement;
    'vscode-panel-view': HTMLElement;
    'vscode-radio-group': HTMLElement & { value: string };
    'vscode-radio': HTMLElement & { value: string; checked: boolean };
    'vscode-tag': HTMLElement;
  }
}
export {};
