# The data runtime (lang.PythonData, docs/guide/data.md): Debian's python3
# with Debian's scientific packages. The list is the catalogue's
# (lang/catalog.go, PythonData's Packages); lang's TestSetupInstallsPackages
# checks that every package there is installed here.
if [ "$(id -u)" = 0 ]; then
	apt_install python3 python3-numpy python3-pandas python3-matplotlib python3-scipy \
		python3-openpyxl python3-xlrd python3-seaborn python3-sklearn python3-statsmodels \
		python3-sympy python3-pil python3-tabulate python3-networkx
fi
