import { BarController, BarElement, CategoryScale, Chart, LinearScale, Tooltip } from 'chart.js';

// Only what a bar chart needs: Chart.js is tree-shaken to these parts (about 150 KB of the bundle).
Chart.register(BarController, BarElement, CategoryScale, LinearScale, Tooltip);

export { Chart };
