import { BarController, BarElement, CategoryScale, Chart, LinearScale, Tooltip } from 'chart.js';

// Only what a bar chart needs: Chart.js is tree-shaken to these parts, in a chunk of its own that only the usage
// view loads.
Chart.register(BarController, BarElement, CategoryScale, LinearScale, Tooltip);

export { Chart };
